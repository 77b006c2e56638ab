import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Wallet } from "ethers";
import { devPrivateKey } from "@chainmail/testkit";
import { REPO_ROOT, startHardhatNode, type RunningNode } from "@chainmail/testkit";
import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import chainmailPlugin from "../tasks/index.js";
import deployRegistry from "../tasks/deploy.js";
import { authorKey, checkedAddress } from "../tasks/support.js";

const run = promisify(execFile);

/** What `action` threw (fails the test if it threw nothing). */
async function thrownBy(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  expect.fail("expected an error");
}

describe("ChainMail Hardhat plugin", function () {
  it("defines every task under `chainmail`", function () {
    const ids = (chainmailPlugin.tasks ?? []).map((definition) => definition.id);
    expect(ids).to.deep.include(["chainmail"]);
    expect(ids).to.deep.include(["chainmail", "channel", "create"]);
    for (const id of ids) expect(id[0], id.join(" ")).to.equal("chainmail");
  });

  it("throws Hardhat's plugin error, from plugin chainmail, for wrong input", async function () {
    // Checked before the network is touched, so no runtime environment is needed.
    const noHre = {} as HardhatRuntimeEnvironment;
    const errors = [
      await thrownBy(() => deployRegistry({ maxBodyBytes: "0", maxAge: "", maxFutureSkew: "" }, noHre)),
      await thrownBy(() => checkedAddress("0x1234", "member address")),
      await thrownBy(() => authorKey("/nonexistent/chainmail.key")),
    ];
    for (const error of errors) {
      expect(HardhatPluginError.isHardhatPluginError(error), String(error)).to.equal(true);
      expect((error as HardhatPluginError).pluginId).to.equal("chainmail");
    }
    expect((errors[1] as Error).message).to.equal('The member address "0x1234" is not an Ethereum address.');
    expect((errors[2] as Error).message).to.equal('Key file "/nonexistent/chainmail.key" does not exist.');
  });
});

/** The Hardhat tasks as a contract developer runs them, against a real `hardhat node`. */
describe("Hardhat tasks against hardhat node", function () {
  this.timeout(180_000);
  let node: RunningNode;
  let scratch: string;

  // What a developer at a terminal sees: Hardhat always prints stack traces when it
  // detects a CI server (from these variables), and CI runs this very suite.
  const { CI, CONTINUOUS_INTEGRATION, BUILD_NUMBER, RUN_ID, GITHUB_ACTIONS, ...terminalEnv } = process.env;

  async function hardhat(args: string[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await run(
        path.join(REPO_ROOT, "node_modules/.bin/hardhat"),
        [...args, "--network", "localhost"],
        {
          cwd: REPO_ROOT,
          env: {
            ...terminalEnv,
            PATH: `${path.join(REPO_ROOT, "node_modules/.bin")}:${process.env.PATH}`,
            CHAINMAIL_RPC_URL: node.url,
            CHAINMAIL_IGNITION_DIR: scratch,
            CHAINMAIL_REGISTRY: "",
            CHAINMAIL_KEY: "",
            ...env,
          },
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  before(async function () {
    node = await startHardhatNode();
    scratch = mkdtempSync(path.join(tmpdir(), "chainmail-ignition-"));
  });
  after(async function () {
    await node?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("live under `chainmail`, which lists its subtasks with their descriptions", async function () {
    for (const args of [["chainmail"], ["chainmail", "--help"]]) {
      const listed = await hardhat(args);
      expect(listed.code, listed.stderr).to.equal(0);
      expect(listed.stdout).to.match(/chainmail deploy\s+Deploy the MessageRegistry with Ignition/);
      expect(listed.stdout).to.match(/chainmail channel\s+Create, close, reopen and list channels/);
      expect(listed.stdout).to.match(/chainmail member\s+Add, remove and list channel members/);
      expect(listed.stdout).to.match(/chainmail post\s+Sign a message with a local key/);
      expect(listed.stdout).to.match(/chainmail messages\s+List a channel's messages/);
      expect(listed.stdout).to.match(/chainmail audit\s+Verify the whole record/);
    }
    const channel = await hardhat(["chainmail", "channel"]);
    for (const verb of ["create", "close", "reopen", "list"]) expect(channel.stdout).to.match(new RegExp(`chainmail channel ${verb}\\s+\\S`));
    const member = await hardhat(["chainmail", "member", "--help"]);
    for (const verb of ["add", "remove", "list"]) expect(member.stdout).to.match(new RegExp(`chainmail member ${verb}\\s+\\S`));
    // The old top-level names are gone, so they cannot clash with another plugin's tasks.
    const old = await hardhat(["deploy"]);
    expect(old.code).to.equal(1);
    expect(old.stderr).to.include('Task "deploy" not found');
  });

  it("explain a missing deployment in one sentence", async function () {
    const result = await hardhat(["chainmail", "channel", "list"]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(
      /^Error in community plugin chainmail: No MessageRegistry is recorded for chain 31337\. Run "npx hardhat chainmail deploy --network localhost"/m,
    );
    expect(result.stderr).not.to.match(/\n\s+at /);
  });

  it("deploy, create a channel, add members, post, and list messages", async function () {
    const alice = new Wallet(devPrivateKey(2));
    const keyFile = path.join(scratch, "alice.key");
    writeFileSync(keyFile, alice.privateKey);

    const deployed = await hardhat(["chainmail", "deploy"]);
    expect(deployed.code, deployed.stderr).to.equal(0);
    expect(deployed.stdout).to.match(/MessageRegistry deployed at 0x[0-9a-fA-F]{40} on chain 31337/);

    expect((await hardhat(["chainmail", "channel", "create", "general"])).stdout).to.include('Channel "general" created');
    expect((await hardhat(["chainmail", "member", "add", "general", alice.address])).stdout).to.include("is now a member");

    const posted = await hardhat(["chainmail", "post", "general", "hello from a task", "--key-file", keyFile]);
    expect(posted.code, posted.stderr).to.equal(0);
    expect(posted.stdout).to.include('Posted to "general" as seq 1');
    const reply = await hardhat(["chainmail", "post", "general", "a reply", "--reply-to", "1"], {
      CHAINMAIL_KEY: alice.privateKey,
    });
    expect(reply.stdout).to.include("as seq 2");

    const listed = await hardhat(["chainmail", "messages", "general", "--json"]);
    const messages = JSON.parse(listed.stdout);
    expect(messages.map((m: { seq: string; text: string; author: string }) => [m.seq, m.text, m.author])).to.deep.equal([
      ["1", "hello from a task", alice.address],
      ["2", "a reply", alice.address],
    ]);
    const table = await hardhat(["chainmail", "messages", "general"]);
    expect(table.stdout).to.match(/seq\s+time\s+author\s+reply\s+text/);

    const channels = JSON.parse((await hardhat(["chainmail", "channel", "list", "--json"])).stdout);
    expect(channels).to.have.length(1);
    expect(channels[0]).to.include({ name: "general", state: "open", seq: "2" });
    expect(channels[0].head).to.equal(messages[1].head);

    const members = JSON.parse((await hardhat(["chainmail", "member", "list", "general", "--json"])).stdout);
    expect(members.map((m: { address: string }) => m.address)).to.deep.equal([alice.address]);
  });

  it("audit the record from the events: clean, then exit 2 for an unknown channel", async function () {
    const clean = await hardhat(["chainmail", "audit"]);
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.match(/general\s+2 messages\s+seq 1\.\.2 \(stored 2\)/);
    expect(clean.stdout).to.include("Clean:");
    const wrong = await hardhat(["chainmail", "audit", "--channels", "nowhere"]);
    expect(wrong.code).to.equal(2);
  });

  it("refuse wrong input with one sentence and change nothing", async function () {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [["chainmail", "member", "add", "general", "0x1234"], {}, /The member address "0x1234" is not an Ethereum address\./],
      [["chainmail", "member", "add", "nowhere", new Wallet(devPrivateKey(3)).address], {}, /Channel "nowhere" does not exist\./],
      [["chainmail", "post", "general", "hi"], {}, /No author key: pass --key-file FILE or set CHAINMAIL_KEY/],
      [["chainmail", "post", "general", "hi"], { CHAINMAIL_KEY: "0xnope" }, /not a valid 32-byte hex private key/],
      [
        ["chainmail", "post", "general", "hi"],
        { CHAINMAIL_KEY: devPrivateKey(5) },
        /refused the message\. The author is not a member of the channel\./,
      ],
      [["chainmail", "post", "general", "hi", "--reply-to", "99"], { CHAINMAIL_KEY: devPrivateKey(2) }, /UnknownReply\(99, 2\)/],
      [["chainmail", "channel", "create", "general"], {}, /Channel "general" already exists\./],
      [["chainmail", "channel", "list", "--registry", "0xabc"], {}, /"0xabc" is not an Ethereum address\./],
      [
        ["chainmail", "post", "general", "hi", "--content-type", "image/gif"],
        { CHAINMAIL_KEY: devPrivateKey(2) },
        /Unknown content type "image\/gif"/,
      ],
      [["chainmail", "post", "general", "hi", "--nonce", "x1"], { CHAINMAIL_KEY: devPrivateKey(2) }, /--nonce must be a whole number, not "x1"\./],
      [["chainmail", "deploy", "--max-age", "0"], {}, /--max-body-bytes and --max-age must be positive/],
    ];
    for (const [args, env, expected] of cases) {
      const result = await hardhat(args, env);
      expect(result.code, args.join(" ")).to.equal(1);
      expect(result.stderr, args.join(" ")).to.match(expected);
      // How Hardhat prints a HardhatPluginError from the plugin "chainmail".
      expect(result.stderr, args.join(" ")).to.match(/^Error in community plugin chainmail: /m);
      expect(result.stderr, args.join(" ")).not.to.match(/\n\s+at /);
    }
    const channels = JSON.parse((await hardhat(["chainmail", "channel", "list", "--json"])).stdout);
    expect(channels[0].seq).to.equal("2");
  });

  it("cancel an author's nonces: a message signed with one is then refused NonceUsed", async function () {
    const alice = new Wallet(devPrivateKey(2));
    const cancelled = await hardhat(["chainmail", "nonces", "invalidate", "1000", "1001", "0x300"], { CHAINMAIL_KEY: alice.privateKey });
    expect(cancelled.code, cancelled.stderr).to.equal(0);
    // 1000 and 1001 share bitmap word 3 (one transaction); 0x300 = 768 is word 3 as well.
    expect(cancelled.stdout.match(/Invalidated nonces of word/g)).to.have.length(1);
    expect(cancelled.stdout).to.include(`3 nonce(s) of ${alice.address} can no longer be used`);
    const refused = await hardhat(["chainmail", "post", "general", "withdrawn", "--nonce", "1001"], { CHAINMAIL_KEY: alice.privateKey });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`NonceUsed(${alice.address}, 1001)`);
    const bad = await hardhat(["chainmail", "nonces", "invalidate", "12x"], { CHAINMAIL_KEY: alice.privateKey });
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/^Error in community plugin chainmail: A nonce must be a whole number \(decimal or 0x hex\), not "12x"\./m);
    const channels = JSON.parse((await hardhat(["chainmail", "channel", "list", "--json"])).stdout);
    expect(channels[0].seq).to.equal("2");
  });

  it("close and reopen a channel, and remove a member", async function () {
    expect((await hardhat(["chainmail", "channel", "close", "general"])).stdout).to.include("closed");
    const refused = await hardhat(["chainmail", "post", "general", "late"], { CHAINMAIL_KEY: devPrivateKey(2) });
    expect(refused.stderr).to.include("The channel is closed and accepts no messages.");
    expect((await hardhat(["chainmail", "channel", "reopen", "general"])).stdout).to.include("reopened");
    const alice = new Wallet(devPrivateKey(2)).address;
    expect((await hardhat(["chainmail", "member", "remove", "general", alice])).stdout).to.include("no longer a member");
    expect((await hardhat(["chainmail", "member", "list", "general"])).stdout).to.include("has no members");
  });
});
