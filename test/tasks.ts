import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Wallet } from "ethers";
import { devPrivateKey } from "@chainmail/testkit";
import { REPO_ROOT, startHardhatNode, type RunningNode } from "@chainmail/testkit";

const run = promisify(execFile);

/** The Hardhat tasks as a contract developer runs them, against a real `hardhat node`. */
describe("Hardhat tasks against hardhat node", function () {
  this.timeout(180_000);
  let node: RunningNode;
  let scratch: string;

  async function hardhat(args: string[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await run(
        path.join(REPO_ROOT, "node_modules/.bin/hardhat"),
        [...args, "--network", "localhost"],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
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

  it("explain a missing deployment in one sentence", async function () {
    const result = await hardhat(["channel", "list"]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/^Error: No MessageRegistry is recorded for chain 31337\. Run "npx hardhat deploy/m);
    expect(result.stderr).not.to.match(/\n\s+at /);
  });

  it("deploy, create a channel, add members, post, and list messages", async function () {
    const alice = new Wallet(devPrivateKey(2));
    const keyFile = path.join(scratch, "alice.key");
    writeFileSync(keyFile, alice.privateKey);

    const deployed = await hardhat(["deploy"]);
    expect(deployed.code, deployed.stderr).to.equal(0);
    expect(deployed.stdout).to.match(/MessageRegistry deployed at 0x[0-9a-fA-F]{40} on chain 31337/);

    expect((await hardhat(["channel", "create", "general"])).stdout).to.include('Channel "general" created');
    expect((await hardhat(["member", "add", "general", alice.address])).stdout).to.include("is now a member");

    const posted = await hardhat(["post", "general", "hello from a task", "--key-file", keyFile]);
    expect(posted.code, posted.stderr).to.equal(0);
    expect(posted.stdout).to.include('Posted to "general" as seq 1');
    const reply = await hardhat(["post", "general", "a reply", "--reply-to", "1"], {
      CHAINMAIL_KEY: alice.privateKey,
    });
    expect(reply.stdout).to.include("as seq 2");

    const listed = await hardhat(["messages", "general", "--json"]);
    const messages = JSON.parse(listed.stdout);
    expect(messages.map((m: { seq: string; text: string; author: string }) => [m.seq, m.text, m.author])).to.deep.equal([
      ["1", "hello from a task", alice.address],
      ["2", "a reply", alice.address],
    ]);
    const table = await hardhat(["messages", "general"]);
    expect(table.stdout).to.match(/seq\s+time\s+author\s+reply\s+text/);

    const channels = JSON.parse((await hardhat(["channel", "list", "--json"])).stdout);
    expect(channels).to.have.length(1);
    expect(channels[0]).to.include({ name: "general", state: "open", seq: "2" });
    expect(channels[0].head).to.equal(messages[1].head);

    const members = JSON.parse((await hardhat(["member", "list", "general", "--json"])).stdout);
    expect(members.map((m: { address: string }) => m.address)).to.deep.equal([alice.address]);
  });

  it("audit the record from the events: clean, then exit 2 for an unknown channel", async function () {
    const clean = await hardhat(["audit"]);
    expect(clean.code, clean.stderr).to.equal(0);
    expect(clean.stdout).to.match(/general\s+2 messages\s+seq 1\.\.2 \(stored 2\)/);
    expect(clean.stdout).to.include("Clean:");
    const wrong = await hardhat(["audit", "--channels", "nowhere"]);
    expect(wrong.code).to.equal(2);
  });

  it("refuse wrong input with one sentence and change nothing", async function () {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [["member", "add", "general", "0x1234"], {}, /The member address "0x1234" is not an Ethereum address\./],
      [["member", "add", "nowhere", new Wallet(devPrivateKey(3)).address], {}, /Channel "nowhere" does not exist\./],
      [["post", "general", "hi"], {}, /No author key: pass --key-file FILE or set CHAINMAIL_KEY/],
      [["post", "general", "hi"], { CHAINMAIL_KEY: "0xnope" }, /not a valid 32-byte hex private key/],
      [
        ["post", "general", "hi"],
        { CHAINMAIL_KEY: devPrivateKey(5) },
        /refused the message\. The author is not a member of the channel\./,
      ],
      [["post", "general", "hi", "--reply-to", "99"], { CHAINMAIL_KEY: devPrivateKey(2) }, /UnknownReply\(99, 2\)/],
      [["channel", "create", "general"], {}, /Channel "general" already exists\./],
      [["channel", "list", "--registry", "0xabc"], {}, /"0xabc" is not an Ethereum address\./],
    ];
    for (const [args, env, expected] of cases) {
      const result = await hardhat(args, env);
      expect(result.code, args.join(" ")).to.equal(1);
      expect(result.stderr, args.join(" ")).to.match(expected);
      expect(result.stderr, args.join(" ")).not.to.match(/\n\s+at /);
    }
    const channels = JSON.parse((await hardhat(["channel", "list", "--json"])).stdout);
    expect(channels[0].seq).to.equal("2");
  });

  it("close and reopen a channel, and remove a member", async function () {
    expect((await hardhat(["channel", "close", "general"])).stdout).to.include("closed");
    const refused = await hardhat(["post", "general", "late"], { CHAINMAIL_KEY: devPrivateKey(2) });
    expect(refused.stderr).to.include("The channel is closed and accepts no messages.");
    expect((await hardhat(["channel", "reopen", "general"])).stdout).to.include("reopened");
    const alice = new Wallet(devPrivateKey(2)).address;
    expect((await hardhat(["member", "remove", "general", alice])).stdout).to.include("no longer a member");
    expect((await hardhat(["member", "list", "general"])).stdout).to.include("has no members");
  });
});
