/**
 * The daarion stack's migration settings (issue 13 item 6): the order of files that share
 * a number, and a node's baseline, reach the deployed migrate.sh; bad values are refused by
 * path. What the script does with them runs against PostgreSQL in test/e2e/migrations.test.ts.
 */
import { describe, expect, it } from "vitest";
import { daarionSchema } from "../../stacks/daarion/config";
import { planNodes } from "../../stacks/daarion/plan";
import { renderMigrateScript } from "../../stacks/daarion/render/scripts";
import { daarionSettings } from "./daarion-config";

function problems(settings: Record<string, unknown>): string[] {
  const r = daarionSchema.safeParse(settings);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`);
}

describe("daarion migrations config", () => {
  it("renders the declared order and the node's baseline into migrate.sh", () => {
    const settings = daarionSettings({ migrations: { order: { "4": ["004_b.sql", "004_a.sql"], "012": ["12_x.sql", "012_y.sql"] } } });
    (settings.nodes as Record<string, unknown>[])[0]!.migrations = { baseline: "012" };
    const { plans } = planNodes(daarionSchema.parse(settings));
    const script = renderMigrateScript(plans[0]!);
    const order = /cat <<'ORDER'\n([\s\S]*?)ORDER\n/.exec(script)![1];
    expect(order).toBe("4 004_b.sql\n4 004_a.sql\n012 12_x.sql\n012 012_y.sql\n");
    expect(script).toContain("\nbaseline='012'\n");
    expect(renderMigrateScript(plans[1]!)).toContain("\nbaseline=''\n");
    expect(script).toContain("\nlexer=$(cat <<'AWK'\n# Managed by pulumi-fleet. The statements of one SQL migration file");
  });

  it.each([
    [{ order: { "004": ["004_a.sql"] } }, "migrations/order/004: must list the two or more files that share this number"],
    [{ order: { "004": ["005_a.sql", "004_b.sql"] } }, "migrations/order/004/0: must be a file numbered 004"],
    [{ order: { "004": ["004_a.sql", "004_a.sql"] } }, "migrations/order/004/1: is listed twice"],
    [{ order: { "4a": ["004_a.sql", "004_b.sql"] } }, "migrations/order/4a: must be a migration number (digits), e.g. 004"],
    [{ order: { "004": ["004_a.sql", "004_b'; rm -rf /.sql"] } }, "migrations/order/004/1: must be a migration file name such as 004_add_agents.sql"],
  ])("refuses %j", (migrations, message) => {
    expect(problems(daarionSettings({ migrations }))).toEqual([message]);
  });

  it("refuses a baseline that is not a number", () => {
    const settings = daarionSettings();
    (settings.nodes as Record<string, unknown>[])[0]!.migrations = { baseline: "12; DROP" };
    expect(problems(settings)).toEqual(["nodes/0/migrations/baseline: must be a migration number (digits), e.g. 004"]);
  });
});
