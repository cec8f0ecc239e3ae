/**
 * Where a compose project's services may build from (issue 13 item 3): the rules of
 * src/components/compose/build.ts, the deployed file (built images tagged, prebuilt ones
 * stripped of `build:`), and ComposeStack refusing before it registers anything. The same
 * rules run at preview on the app's files in test/stacks/app-sources.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { AppDeployment } from "../../src/components/app";
import { ComposeStack } from "../../src/components/compose";
import { type BuildRoot, buildProblems, type BuildRules, type TreeKind } from "../../src/components/compose/build";
import { prepareCompose } from "../../src/components/compose/render";
import { parseLsTree } from "../../src/git/files";
import { testHost } from "../helpers/hosts";
import { refused, scriptText, stdinOf } from "../helpers/inputs";
import { runProgram } from "../helpers/pulumi";

const CHECKOUT = "/opt/app/src/app";
const TREE: ReadonlyMap<string, TreeKind> = new Map([
  ["Dockerfile", "blob"],
  ["docker", "tree"],
  ["docker/web", "tree"],
  ["docker/web/Dockerfile", "blob"],
  ["shared", "link"],
  ["vendor", "commit"],
  ["README.md", "blob"],
]);

function rules(more: Partial<BuildRules> = {}, roots: BuildRoot[] = [{ directory: CHECKOUT, label: "the checkout", tree: TREE }]): BuildRules {
  return { projectDirectory: CHECKOUT, envDirectory: "/opt/app", roots, env: { KNOWN: "docker/web" }, build: true, prebuilt: [], fix: "FIX", ...more };
}

const withBuild = (build: string) => `services:\n  web:\n${build}    image: ignored\n`;

describe("buildProblems", () => {
  it.each([
    ["the checkout's root", "    build: .\n"],
    ["a subdirectory and its Dockerfile", "    build:\n      context: docker/web\n"],
    ["a context from a known variable", "    build: ${KNOWN}\n"],
    ["a Dockerfile elsewhere in the checkout", "    build:\n      context: docker\n      dockerfile: ../Dockerfile\n"],
    ["an inline Dockerfile", "    build:\n      context: docker\n      dockerfile_inline: FROM scratch\n"],
  ])("accepts %s", (_what, build) => {
    expect(buildProblems(withBuild(build), rules())).toEqual([]);
  });

  it.each([
    ["..: the directory holding the other checkouts", "    build: ..\n", 'service "web" builds from context ".." (/opt/app/src), outside the checkout; FIX'],
    ["../..: the directory holding the .env", "    build: ../..\n", 'service "web" builds from context "../.." (/opt/app), which holds the project\'s .env (/opt/app): its secrets would be sent to the builder; FIX'],
    ["an absolute path", "    build: /etc\n", 'service "web" builds from context "/etc", outside the checkout; FIX'],
    ["a remote git context", "    build: https://github.com/x/y.git#main\n", 'service "web" builds from context "https://github.com/x/y.git#main", which is not a directory of the checkout: a build must come from the checkout at its pinned commit; FIX'],
    ["a variable whose value is unknown", "    build: ${WHERE}\n", 'service "web" builds from context "${WHERE}", which depends on a variable whose value is not known before the build; write the path out in the compose file'],
    ["a Dockerfile outside", "    build:\n      context: .\n      dockerfile: ../../.env\n", 'service "web" builds with the Dockerfile "../../.env" (/opt/app/.env), outside the checkout; FIX'],
    ["an additional context outside", "    build:\n      context: .\n      additional_contexts:\n        web: ../other\n", 'service "web" builds with additional_contexts web "../other" (/opt/app/src/other), outside the checkout; FIX'],
    ["a symbolic link", "    build: shared/web\n", 'service "web" builds from context "shared/web" (/opt/app/src/app/shared/web), where shared is a symbolic link in the checkout, which may lead out of the checkout; name the directory it points to instead'],
    ["a submodule", "    build: vendor\n", 'service "web" builds from context "vendor" (/opt/app/src/app/vendor), where vendor is a git submodule in the checkout, which is not fetched; declare its repository as a sibling checkout instead'],
    ["a directory the commit does not have", "    build: web\n", 'service "web" builds from context "web" (/opt/app/src/app/web), which is not a directory in the checkout; commit it there, or name a directory the repository has at that commit'],
    ["a file as context", "    build: README.md\n", 'service "web" builds from context "README.md" (/opt/app/src/app/README.md), which is not a directory in the checkout; commit it there, or name a directory the repository has at that commit'],
    ["a missing Dockerfile", "    build:\n      context: docker\n", 'service "web" builds with the Dockerfile "Dockerfile" (/opt/app/src/app/docker/Dockerfile), which is not a file in the checkout; commit it there, or name a file the repository has at that commit'],
  ])("refuses %s, naming the service, the context and the fix", (_what, build, message) => {
    expect(buildProblems(withBuild(build), rules())).toEqual([{ path: "compose/services/web/build", message }]);
  });

  it("a declared sibling's directory is a root of its own; its tree is checked the same way", () => {
    const sibling: BuildRoot = { directory: "/opt/app/src/core", label: "sibling core", tree: new Map([["Dockerfile", "blob"]]) };
    const roots = [{ directory: CHECKOUT, label: "the checkout", tree: TREE }, sibling];
    expect(buildProblems(withBuild("    build: ../core\n"), rules({}, roots))).toEqual([]);
    expect(buildProblems(withBuild("    build: ../core/sub\n"), rules({}, roots))[0]!.message).toContain("which is not a directory in sibling core");
  });

  it("prebuilt services are not built; without build every other build: section is refused", () => {
    expect(buildProblems(withBuild("    build: ..\n"), rules({ prebuilt: ["web"] }))).toEqual([]);
    expect(buildProblems(withBuild("    build: .\n"), rules({ build: false }))).toEqual([
      { path: "compose/services/web/build", message: 'service "web" builds from source (context ".") but this project does not build: run a prebuilt image for it (images.web: image and digest), or build it from the checkout' },
    ]);
  });

  it("reads git ls-tree -r -t -z output: directories, files, links, submodules", () => {
    const out = "040000 tree aaaa\tdocker\u0000100644 blob bbbb\tdocker/Dockerfile\u0000120000 blob cccc\tshared\u0000160000 commit dddd\tvendor\u0000100755 blob eeee\tweird name\twith tab\u0000";
    expect([...parseLsTree(out)]).toEqual([["docker", "tree"], ["docker/Dockerfile", "blob"], ["shared", "link"], ["vendor", "commit"], ["weird name\twith tab", "blob"]]);
  });
});

describe("the deployed compose file", () => {
  const text = "services:\n  web:\n    build: .\n    image: web:latest\n  api:\n    build: ./api\n  db:\n    image: postgres:16\n";
  const plan = (tag?: string) => ({
    env: [],
    pins: { api: "registry.example/api@sha256:" + "c".repeat(64) },
    build: { build: true, project: "shop", tag, projectDirectory: CHECKOUT, envDirectory: "/opt/app", roots: [{ directory: CHECKOUT, label: "the checkout" }], env: {} },
  });

  it("tags every built service's image by the tag (the commit); a prebuilt service loses its build: section", () => {
    const deployed = parseYaml(prepareCompose(text, plan("3f2a9c1d0b7e"))) as { services: Record<string, Record<string, unknown>> };
    expect(deployed.services.web).toEqual({ build: ".", image: "shop-web:3f2a9c1d0b7e" });
    expect(deployed.services.api).toEqual({ image: `registry.example/api@sha256:${"c".repeat(64)}` });
    expect(deployed.services.db).toEqual({ image: "postgres:16" });
  });

  it("without a tag, built services keep what the file says", () => {
    const deployed = parseYaml(prepareCompose(text, plan())) as { services: Record<string, Record<string, unknown>> };
    expect(deployed.services.web).toEqual({ build: ".", image: "web:latest" });
  });
});

describe("ComposeStack building from source", () => {
  const args = (more: Record<string, unknown> = {}) => ({
    host: testHost("puck"),
    project: "shop",
    directory: "/opt/shop",
    compose: { content: "services:\n  web:\n    build: .\n    ports: ['8080:80']\n" },
    build: true,
    ...more,
  });

  it("refuses a build context that is the directory holding the .env (the old menagerie layout), before registering anything", async () => {
    const r = await refused(() => new ComposeStack("shop", args()));
    expect(r.message).toBe(
      'ComposeStack "shop": compose/services/web/build: service "web" builds from context "." (/opt/shop), which holds the project\'s .env (/opt/shop): its secrets would be sent to the builder; build from a directory inside projectDirectory or buildRoots (never the directory holding the .env), or pin a prebuilt image for the service (images)',
    );
    expect(r.run.resources).toEqual([]);
  });

  it("builds from projectDirectory (the checkout): every command resolves there, images tagged, the rollback never builds", async () => {
    const run = await runProgram(() => new ComposeStack("shop", args({ projectDirectory: "/opt/shop/src/shop", buildTag: "3f2a9c1d0b7e" })));
    const up = scriptText(String(run.get("shop-up").inputs.create));
    expect(up).toContain("docker compose --project-name 'shop' --project-directory '/opt/shop/src/shop' -f '/opt/shop/docker-compose.yaml' --env-file '/opt/shop/.env' up -d --remove-orphans --build --wait");
    expect(up).toContain("docker compose --project-name 'shop' --project-directory '/opt/shop/src/shop' -f '/opt/shop/.fleet/last-good.yaml' --env-file '/opt/shop/.fleet/last-good.env' up -d --remove-orphans --no-build --wait");
    expect(scriptText(String(run.get("shop-up").inputs.delete))).toContain("--project-directory '/opt/shop/src/shop' -f '/opt/shop/docker-compose.yaml'");
    expect((parseYaml(stdinOf(run.get("shop-compose"))) as { services: { web: { image: string } } }).services.web.image).toBe("shop-web:3f2a9c1d0b7e");
  });

  it("refuses a service with build: that nothing builds (build: false) and no prebuilt image pins", async () => {
    const r = await refused(() => new ComposeStack("shop", args({ build: false })));
    expect(r.message).toContain('compose/services/web/build: service "web" builds from source (context ".") but this project does not build');
  });
});

describe("the build rules on the trees read at preview, inside the components (a library user gets them)", () => {
  const COMPOSE = "services:\n  web:\n    build: shared/web\n    ports: ['8080:80']\n  api:\n    build: ../api\n";
  const checkout = "/opt/shop/src/shop";

  it("ComposeStack with buildTrees: each root's tree and label, and the caller's fix naming the service; nothing registered", async () => {
    const r = await refused(
      () =>
        new ComposeStack("shop", {
          host: testHost("puck"),
          project: "shop",
          directory: "/opt/shop",
          projectDirectory: checkout,
          buildRoots: ["/opt/shop/src/api"],
          compose: { content: COMPOSE },
          build: true,
          buildTrees: { [checkout]: { label: "the checkout at v1 (abc)", tree: TREE }, "/opt/shop/src/api": { label: "sibling api", tree: new Map([["README.md", "blob"]]) } },
          buildFix: "FIX images.<service>",
        }),
    );
    expect(r.message).toBe(
      [
        'ComposeStack "shop" has 2 problems:',
        '  - compose/services/web/build: service "web" builds from context "shared/web" (/opt/shop/src/shop/shared/web), where shared is a symbolic link in the checkout at v1 (abc), which may lead out of the checkout; name the directory it points to instead',
        '  - compose/services/api/build: service "api" builds with the Dockerfile "Dockerfile" (/opt/shop/src/api/Dockerfile), which is not a file in sibling api; commit it there, or name a file the repository has at that commit',
      ].join("\n"),
    );
    expect(r.run.resources).toEqual([]);
    // Outside every root: the caller's fix, for that service.
    const out = await refused(() => new ComposeStack("shop", { host: testHost("puck"), project: "shop", directory: "/opt/shop", projectDirectory: checkout, compose: { content: COMPOSE.replace("shared/web", "..") }, build: true, images: { api: { image: "registry.example/api:1" } }, buildFix: "FIX images.<service>" }));
    expect(out.message).toBe('ComposeStack "shop": compose/services/web/build: service "web" builds from context ".." (/opt/shop/src), outside the project directory /opt/shop/src/shop; FIX images.web');
  });

  it("AppDeployment: the checkout's tree read at preview (source.tree) refuses a build through a link of the repository when it is constructed; nothing registered", async () => {
    const url = "https://git.example.com/shop.git";
    const commit = "c".repeat(40);
    const r = await refused(
      () =>
        new AppDeployment("shop", {
          host: testHost("puck"),
          source: { url, ref: "v1", commit, directory: checkout, files: { "compose.yml": COMPOSE.replace("  api:\n    build: ../api\n", "") }, tree: TREE },
          compose: { project: "shop", directory: "/opt/shop", projectDirectory: checkout, composeFile: "compose.yml", compose: { git: { url, ref: "v1", path: "compose.yml" } }, build: true },
        }),
    );
    expect(r.message).toBe(
      `AppDeployment "shop": compose/compose/services/web/build: service "web" builds from context "shared/web" (/opt/shop/src/shop/shared/web), where shared is a symbolic link in the checkout of ${url} at v1 (${commit}), which may lead out of the checkout; name the directory it points to instead`,
    );
    expect(r.run.resources).toEqual([]);
  });
});
