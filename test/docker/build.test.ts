/**
 * Issue 13 item 3 on a real Docker engine: a compose service with `build:` is built on the
 * host (dockerd and compose v2 on puck) from the app's checkout at a pinned commit, which
 * lives in its own directory (`<directory>/src/<app>`, compose's project directory) apart
 * from the project directory that holds the `.env`; the image is tagged by the commit; a
 * new commit builds a new tag while the old image stays for a rollback; the `.env` never
 * reaches the build context. The checkout is the library's own script, run on puck
 * against a bare repository under puck's /srv; the compose file is read "at the commit"
 * as preview reads it (here: the same text, inline).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposeStack } from "../../src/components/compose";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { type Fleet, REGISTRY } from "../e2e/harness";
import { build, type Built } from "../e2e/program";
import { type TestRepository, testRepository } from "../helpers/git";
import { applyDiff, destroyAll } from "./deploy";
import { httpd } from "./images";
import { composeOnPuck, dockerPuck, pullOnPuck } from "./puck";

const BASE = `${REGISTRY}/fleet/build-base:1`;
const PORT = 18093;
const PROJECT = "shop-build";
const DIRECTORY = "/opt/shop-build";
const CHECKOUT = `${DIRECTORY}/src/shop`;
const COMPOSE = `services:\n  web:\n    build: .\n    ports: ["127.0.0.1:${PORT}:8080"]\n`;

describe("a service built from the checkout at a pinned commit, on dockerd + compose v2", () => {
  let fleet: Fleet;
  let base: string;
  let repo: TestRepository;
  let deployed: Built<ComposeStack> | undefined;
  const commits: string[] = [];

  beforeAll(async () => {
    const puck = await dockerPuck({ [BASE]: { files: { "/www/index.html": "base\n" }, cmd: httpd(8080) } });
    fleet = puck.fleet;
    base = puck.digests[BASE]!;
    await pullOnPuck(fleet, BASE, base);
    // The app's repository, under puck's own /srv (what the host fetches from).
    const dir = join(fleet.hosts.puck.rootDir, "srv", "fleet-git");
    mkdirSync(dir, { recursive: true });
    repo = testRepository(dir, "shop");
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  /** Commit `version` of the app, check it out on puck as the stack's checkout does, deploy it. */
  async function release(version: string): Promise<{ commit: string; tag: string }> {
    const commit = repo.commit("main", { Dockerfile: `FROM ${BASE.replace(/:1$/, "")}@${base}\nCOPY . /www/ctx/\n`, version: `${version}\n` }, version);
    commits.push(commit);
    const checkout = await fleet.run("puck", gitCheckoutScript({ url: "/srv/fleet-git/shop.git", ref: "main", commit, directory: CHECKOUT, directoryMode: "0750" }));
    expect(checkout.code, checkout.stderr).toBe(0);
    expect(checkout.stdout.trim()).toBe(commit);
    const tag = commit.slice(0, 12);
    const next = await build(() =>
      composeOnPuck(fleet, {
        project: PROJECT,
        directory: DIRECTORY,
        projectDirectory: CHECKOUT,
        build: true,
        buildTag: tag,
        compose: { content: COMPOSE },
        env: { SHOP_TOKEN: "tok-never-in-an-image" },
        triggers: [commit],
      }),
    );
    await applyDiff(fleet, deployed, next);
    deployed = next;
    return { commit, tag };
  }

  const inspect = async (format: string, target: string) => (await fleet.run("puck", `docker inspect --format '${format}' ${target}`)).stdout.trim();

  it("builds from the checkout, tags the image by the commit, runs it; the .env is not in the build context", async () => {
    const { tag } = await release("v1");
    const image = `${PROJECT}-web:${tag}`;
    expect(await inspect("{{.Config.Image}}", `$(docker ps -q --filter label=com.docker.compose.project=${PROJECT})`)).toBe(image);
    expect((await fleet.curl("puck", `http://127.0.0.1:${PORT}/ctx/version`)).body).toBe("v1\n");
    // What the build saw: the checkout's tree, never the project directory with the .env.
    const ls = await fleet.run("puck", `docker run --rm --entrypoint /bin/ls ${image} -a /www/ctx`);
    expect(ls.code, ls.stderr).toBe(0);
    const files = ls.stdout.split(/\s+/).filter(Boolean);
    expect(files).toEqual(expect.arrayContaining(["Dockerfile", "version"]));
    expect(files).not.toContain(".env");
    const secret = await fleet.run("puck", `docker run --rm --entrypoint /bin/grep ${image} -r tok-never-in-an-image /www || true`);
    expect(secret.stdout).toBe("");
    // The .env lives in the project directory, outside the checkout.
    expect((await fleet.run("puck", `test -f ${DIRECTORY}/.env && test ! -e ${CHECKOUT}/.env && echo apart`)).stdout.trim()).toBe("apart");
  });

  it("a new commit builds a new tag and runs it; the previous commit's image stays for a rollback", async () => {
    const first = `${PROJECT}-web:${commits[0]!.slice(0, 12)}`;
    const { tag } = await release("v2");
    expect(await inspect("{{.Config.Image}}", `$(docker ps -q --filter label=com.docker.compose.project=${PROJECT})`)).toBe(`${PROJECT}-web:${tag}`);
    expect((await fleet.curl("puck", `http://127.0.0.1:${PORT}/ctx/version`)).body).toBe("v2\n");
    expect((await fleet.run("puck", `docker image inspect --format ok ${first}`)).stdout.trim()).toBe("ok");
  });

  it("deletes cleanly", async () => {
    expect(deployed).toBeDefined();
    await destroyAll(fleet, deployed!);
    expect((await fleet.run("puck", `docker ps -aq --filter label=com.docker.compose.project=${PROJECT}`)).stdout.trim()).toBe("");
  });
});
