/**
 * What identifies a compose project on a host, owned by ComposeStack: its lock name,
 * its command line with every path explicit, and the validator of its files. Pure:
 * shell text built with the quoting helper.
 */
import { type HostSpec } from "../../config/hosts";
import { type Daemon } from "../../remote/daemons";
import { sh } from "../../remote/quote";

type ComposeHost = Pick<HostSpec, "compose">;

/**
 * The lock of a compose project (`<lockDir>/fleet-compose-<project>.lock`): its file
 * changes, `up`/`down`, one-off tasks and anything that must not race them (a source
 * checkout `up --build` reads, a config file a container reads) take this one.
 */
export function composeLock(project: string): string {
  return `compose-${project}`;
}

export interface ComposeProjectFiles {
  /** The directory holding the compose file and the env file, absolute. */
  readonly directory: string;
  /**
   * Where compose resolves the file's relative paths (`--project-directory`): build
   * contexts and bind mounts, e.g. the app's checkout. @default `directory`
   */
  readonly projectDirectory?: string | undefined;
  /** Project name (`--project-name`). */
  readonly project: string;
  /** Compose file name inside `directory`. @default "docker-compose.yaml" */
  readonly file?: string;
  /** Env file name inside `directory` (`--env-file`). @default ".env" */
  readonly envFile?: string;
}

/** The compose command for a project with every path explicit: no reliance on the working directory. */
export function composeCommand(host: ComposeHost, p: ComposeProjectFiles): string {
  const file = `${p.directory}/${p.file ?? "docker-compose.yaml"}`;
  const envFile = `${p.directory}/${p.envFile ?? ".env"}`;
  return `${projectOptions(host, p)} -f ${sh(file)} --env-file ${sh(envFile)}`;
}

/** `<compose> --project-name P --project-directory D`: what every command of the project starts with. */
export function projectOptions(host: ComposeHost, p: Pick<ComposeProjectFiles, "project" | "directory" | "projectDirectory">): string {
  return `${host.compose} --project-name ${sh(p.project)} --project-directory ${sh(p.projectDirectory ?? p.directory)}`;
}

/**
 * A compose project's files as a daemon of the file primitive: `config -q` checks the
 * whole project with its env file. Until the compose file exists (first deploy writes
 * the env file and mounted files first) and after it is removed there is nothing to
 * validate.
 */
export function composeProject(host: ComposeHost, p: ComposeProjectFiles): Daemon {
  const file = `${p.directory}/${p.file ?? "docker-compose.yaml"}`;
  const envFile = `${p.directory}/${p.envFile ?? ".env"}`;
  return {
    lock: composeLock(p.project),
    service: `compose project ${p.project}`,
    checker: "compose config",
    validate:
      `if [ ! -f ${sh(file)} ]; then echo ${sh(`fleet: ${file} not present yet; nothing to validate`)}; ` +
      `elif [ ! -f ${sh(envFile)} ]; then ${projectOptions(host, p)} -f ${sh(file)} config -q; ` +
      `else ${composeCommand(host, p)} config -q; fi`,
  };
}
