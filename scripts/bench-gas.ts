/**
 * `pnpm bench:gas [--json]`: gas per ChainMail message by body size and batch size, cold
 * and steady state, beside one-message-per-transaction `post` and the Ethereum
 * Attestation Service's `attestByDelegation`, all measured in the same run on Hardhat's
 * in-process EDR network. Progress goes to stderr; `--json` prints one JSON object on stdout.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { network } from "hardhat";
// Brings the hardhat-ethers type extensions (connection.ethers) when type-checking outside Hardhat.
import type {} from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { createChannelWithMembers, deployRegistry } from "@chainmail/testkit";
import { signMessage, toCallArgument, packBatch } from "@chainmail/protocol";
import { breakdownOf, type Breakdown } from "./bench/gas-breakdown.js";
import { benchAuthors, ChainMailGasBench, type Scenario, type ScenarioResult } from "./bench/gas-chainmail.js";
import { benchEas, type EasResult } from "./bench/gas-eas.js";
import { benchSdk, type SdkResult } from "./bench/gas-sdk.js";
import { calldataStats } from "./bench/gas-breakdown.js";
import { breakdownTable, gas, table } from "./bench/gas-report.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BODY_SIZES = [32, 256, 1024, 4096];
const BATCH_SIZES = [1, 10, 100];
const AUTHORS_PER_BATCH = 10;
const DISTINCT_AUTHORS = 100;
const SINGLE_TX_SAMPLES = 10;
const GOAL = 21_000;
/** Issue 14's goal for SDK-made messages (256 B, batch 100, 10 authors); stretch 16,000. */
const SDK_GOAL = 18_000;
/** SDK batches: 26 x 100 from 10 authors is 260 messages each, so every author crosses a word boundary once. */
const SDK_BATCHES = 26;
const EIP7825_TX_GAS_CAP = 16_777_216;
const PRE_FLOOR_HARDFORK = "cancun";

const USAGE = `Usage: pnpm bench:gas [--json]

Measures gas per ChainMail message for bodies of ${BODY_SIZES.join(", ")} bytes at batch sizes
${BATCH_SIZES.join(", ")} (10 authors per batch; also batch 100 from 100 authors), cold (each author's first
message in a fresh nonce word) and warm (steady state), beside one message per transaction (post)
and EAS attestByDelegation of a 256-byte payload, on Hardhat's in-process network.

  --json   print one JSON object on stdout (progress still goes to stderr)
  --help   this text

Also measures "sdk": messages signed by the client SDK (signForRelayer) with its own nonce
scheme, 26 batches of 100 from 10 authors, with the traced cost per item. With GAS_OPCODES=1
in the environment, each traced transaction's "other" gas is listed by opcode on stderr.`;

const progress = (line: string) => process.stderr.write(line + "\n");

function parseCli(argv: string[]): { json: boolean } | number {
  try {
    const { values } = parseArgs({
      args: argv.filter((a) => a !== "--"),
      options: { json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(USAGE + "\n");
      return 0;
    }
    return { json: values.json };
  } catch (error) {
    process.stderr.write(`${(error as Error).message.split("\n")[0]} (see --help).\n`);
    return 2;
  }
}

function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (const bodyBytes of BODY_SIZES) {
    for (const batch of BATCH_SIZES) {
      const authors = Math.min(batch, AUTHORS_PER_BATCH);
      list.push({ bodyBytes, batch, authors, mode: "batch", samples: batch === 1 ? SINGLE_TX_SAMPLES : 1 });
    }
    list.push({ bodyBytes, batch: 100, authors: DISTINCT_AUTHORS, mode: "batch", samples: 1 });
    list.push({ bodyBytes, batch: 1, authors: 1, mode: "onePerTx", samples: SINGLE_TX_SAMPLES });
  }
  return list;
}

type Table = Record<string, Record<string, number>>;

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2));
  if (typeof cli === "number") return cli;

  progress("gas bench: starting Hardhat's in-process network (EDR)");
  const connection = await network.connect();
  const { ethers } = connection;
  try {
    const signers = await ethers.getSigners();
    const [deployer, channelAdmin] = signers;
    const relayer = signers[9];
    const hardfork = String((connection.networkConfig as { hardfork?: string }).hardfork ?? "unknown");
    const latest = await ethers.provider.getBlock("latest");
    const blockGasLimit = Number(latest!.gasLimit);
    const txGasCap = hardfork === "osaka" ? Math.min(blockGasLimit, EIP7825_TX_GAS_CAP) : blockGasLimit;

    progress("gas bench: deploying the registry, a channel and 100 members");
    const { bench, now, authors, channel, location } = await prepareChainMail(ethers, relayer, deployer, channelAdmin);
    const { chainId } = await ethers.provider.getNetwork();
    const list = scenarios();
    progress(`gas bench: pre-signing ${list.reduce((s, x) => s + 2 * x.batch * x.samples, 0)} messages`);
    const signed = [];
    for (const s of list) signed.push(await bench.presign(s, now));

    const results: ScenarioResult[] = [];
    for (const [i, s] of list.entries()) {
      const r = await bench.run(s, signed[i]);
      results.push(r);
      progress(
        `  ${String(s.bodyBytes).padStart(4)} B  ${s.mode === "onePerTx" ? "post x1   " : `batch ${String(s.batch).padEnd(4)}`}` +
          ` authors ${String(s.authors).padEnd(3)} cold ${gas(r.cold.gasPerMessage).padStart(7)}  warm ${gas(r.warm.gasPerMessage).padStart(7)} gas/msg` +
          (r.cold.splitNote || r.warm.splitNote ? "  (split)" : ""),
      );
    }

    progress(`gas bench: SDK-made messages (client signForRelayer, its NonceSource), ${SDK_BATCHES} batches of 100 from ${AUTHORS_PER_BATCH} authors`);
    const sdk = await benchSdk({
      bench,
      info: {
        chainId: location.chainId.toString(),
        registry: location.address,
        deploymentBlock: 0,
        limits: { maxBodyBytes: 0, maxAge: 0, maxFutureSkew: 0 },
        batch: { maxSize: 100, maxWaitMs: 0 },
        signers: [],
      },
      channel,
      authors: authors.slice(0, AUTHORS_PER_BATCH),
      bodyBytes: 256,
      batch: 100,
      batches: SDK_BATCHES,
      timestamp: now,
      send: (method, params) => ethers.provider.send(method, params),
      calldataGas: (data) => calldataStats(data).gas,
    });
    progress(`   256 B  batch 100  SDK nonces  ${gas(sdk.gasPerMessage).padStart(7)} gas/msg over ${sdk.messages} messages (${sdk.freshWords} fresh nonce words)`);

    progress("gas bench: EAS baseline (SchemaRegistry + EAS from the npm package's artifacts)");
    const eas = await benchEas(REPO_ROOT, deployer, relayer, benchAuthors(DISTINCT_AUTHORS + 3).slice(DISTINCT_AUTHORS), progress);

    progress("gas bench: tracing the 256-byte batch-100 transactions for the breakdown");
    const send = (method: string, params: unknown[]) => ethers.provider.send(method, params);
    const find = (bodyBytes: number, batch: number, authorsN: number, mode = "batch") =>
      results.find((r) => r.scenario.bodyBytes === bodyBytes && r.scenario.batch === batch && r.scenario.authors === authorsN && r.scenario.mode === mode)!;
    const headline = find(256, 100, AUTHORS_PER_BATCH);
    const distinct = find(256, 100, DISTINCT_AUTHORS);
    const breakdowns: Record<string, Breakdown | null> = {};
    for (const [key, r, state] of [
      ["warm", headline, "warm"],
      ["cold", headline, "cold"],
      ["distinctAuthorsWarm", distinct, "warm"],
    ] as const) {
      const round = r[state];
      breakdowns[key] =
        round.receipts.length === 1
          ? await breakdownOf({
              receipt: round.receipts[0],
              calldata: round.calldata[0],
              messages: r.scenario.batch,
              authors: r.scenario.authors,
              bodyBytes: 256,
              state,
              send,
            })
          : null; // split batches are not broken down
    }

    let preFloor: Awaited<ReturnType<typeof preFloorReference>> | null = null;
    if (hardfork !== PRE_FLOOR_HARDFORK) {
      progress(`gas bench: batch 100 again on a second in-process network at ${PRE_FLOOR_HARDFORK} (no calldata floor)`);
      preFloor = await preFloorReference(PRE_FLOOR_HARDFORK);
    }

    const report = buildReport({ results, eas, breakdowns, hardfork, blockGasLimit, txGasCap, chainId, preFloor, sdk });
    if (cli.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else process.stdout.write(humanReport(report, results, eas, breakdowns) + "\n");
    return 0;
  } finally {
    await (connection as { close?: () => Promise<void> }).close?.();
  }
}

type Ethers = Awaited<ReturnType<typeof network.connect>>["ethers"];
type HardhatSigner = Awaited<ReturnType<Ethers["getSigners"]>>[number];

/** Deploys a registry and a channel whose members are the bench authors, and posts the channel's first message. */
async function prepareChainMail(ethers: Ethers, relayer: HardhatSigner, deployer: HardhatSigner, channelAdmin: HardhatSigner) {
  const { registry, address, chainId } = await deployRegistry(deployer);
  const location = { chainId, address };
  const authors = benchAuthors(DISTINCT_AUTHORS);
  const channel = await createChannelWithMembers(registry, "gas-bench", channelAdmin, authors.map((a) => a.address));
  const bench = new ChainMailGasBench(registry, location, channel, authors, relayer, progress);
  // The channel's first message turns its head from zero to non-zero once in its life;
  // post it before measuring so no scenario carries that one-off cost.
  const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  const first = await signMessage(authors[0], location, {
    channel,
    author: authors[0].address,
    body: "0x01",
    contentType: 3,
    timestamp: now,
    replyTo: 0n,
    nonce: 0n, // word 0 is the warm-up's; every scenario gets its own fresh word
  });
  await (await registry.connect(relayer).postBatch(packBatch([first]))).wait();
  return { bench, now, authors, channel, location };
}

/**
 * The same batch-100 scenarios on a second in-process network at Cancun, before
 * EIP-7623's calldata floor (Prague) and EIP-7825's per-transaction gas cap (Osaka):
 * what a private chain on an older fork would charge.
 */
async function preFloorReference(hardfork: string) {
  const connection = await network.connect({ override: { hardfork } });
  try {
    const signers = await connection.ethers.getSigners();
    const { bench, now } = await prepareChainMail(connection.ethers, signers[9], signers[0], signers[1]);
    const out: { hardfork: string; gasPerMessage: Table; gasPerMessageCold: Table } = { hardfork, gasPerMessage: {}, gasPerMessageCold: {} };
    for (const bodyBytes of BODY_SIZES) {
      const scenario: Scenario = { bodyBytes, batch: 100, authors: AUTHORS_PER_BATCH, mode: "batch", samples: 1 };
      const r = await bench.run(scenario, await bench.presign(scenario, now));
      out.gasPerMessage[String(bodyBytes)] = { "100": Math.round(r.warm.gasPerMessage * 10) / 10 };
      out.gasPerMessageCold[String(bodyBytes)] = { "100": Math.round(r.cold.gasPerMessage * 10) / 10 };
      progress(`  ${hardfork}: ${String(bodyBytes).padStart(4)} B batch 100  cold ${gas(r.cold.gasPerMessage).padStart(7)}  warm ${gas(r.warm.gasPerMessage).padStart(7)} gas/msg`);
    }
    return out;
  } finally {
    await (connection as { close?: () => Promise<void> }).close?.();
  }
}

function buildReport(args: {
  results: ScenarioResult[];
  eas: EasResult;
  breakdowns: Record<string, Breakdown | null>;
  hardfork: string;
  blockGasLimit: number;
  txGasCap: number;
  chainId: bigint;
  preFloor: Awaited<ReturnType<typeof preFloorReference>> | null;
  sdk: SdkResult;
}) {
  const { results, eas } = args;
  const gasPerMessage: Table = {};
  const gasPerMessageCold: Table = {};
  const distinctAuthors: Table = {};
  const distinctAuthorsCold: Table = {};
  const onePerTx: Record<string, number> = {};
  const onePerTxCold: Record<string, number> = {};
  const notes: string[] = [];
  const round1 = (x: number) => Math.round(x * 10) / 10;
  for (const r of results) {
    const { bodyBytes, batch, authors, mode } = r.scenario;
    const size = String(bodyBytes);
    if (mode === "onePerTx") {
      onePerTx[size] = round1(r.warm.gasPerMessage);
      onePerTxCold[size] = round1(r.cold.gasPerMessage);
    } else if (authors === DISTINCT_AUTHORS) {
      (distinctAuthors[size] ??= {})[String(batch)] = round1(r.warm.gasPerMessage);
      (distinctAuthorsCold[size] ??= {})[String(batch)] = round1(r.cold.gasPerMessage);
    } else {
      (gasPerMessage[size] ??= {})[String(batch)] = round1(r.warm.gasPerMessage);
      (gasPerMessageCold[size] ??= {})[String(batch)] = round1(r.cold.gasPerMessage);
    }
    for (const note of [r.cold.splitNote, r.warm.splitNote]) if (note) notes.push(`${bodyBytes} B, batch ${batch}, ${authors} authors: ${note}`);
    const floored = r.cold.floorPricedTransactions + r.warm.floorPricedTransactions;
    if (floored) {
      notes.push(
        `${bodyBytes} B, ${mode === "onePerTx" ? "post" : `batch ${batch}`}, ${authors} authors: ${floored} of ${r.cold.transactions + r.warm.transactions} transactions paid the EIP-7623 calldata floor ` +
          "(21,000 + 10 per zero and 40 per non-zero calldata byte) because it exceeded their execution cost; cold and warm are then equal.",
      );
    }
  }
  const headline = gasPerMessage["256"]["100"];
  const { receipts: _receipts, ...easOut } = eas;
  return {
    benchmark: "gas",
    // pnpm prints its "> chainmail@... bench:gas" banner on stdout unless run with -s.
    command: "pnpm -s bench:gas --json",
    network: {
      kind: "Hardhat 3 in-process EDR network (hardhat network.connect())",
      hardfork: args.hardfork,
      chainId: Number(args.chainId),
      blockGasLimit: args.blockGasLimit,
      txGasCap: args.txGasCap,
    },
    method: {
      gasPerMessage: "receipt gasUsed / messages in the transaction; includes the 21,000 intrinsic gas of the transaction",
      bodies: "random bytes (almost no zero bytes: the worst case for calldata)",
      batches: `one channel; a batch of B messages comes from min(B, ${AUTHORS_PER_BATCH}) authors round-robin; distinctAuthors: ${DISTINCT_AUTHORS} authors, one message each`,
      nonces: "consecutive per author inside one 256-nonce bitmap word; each scenario gets a fresh word",
      cold: "first round of a scenario: each author's nonce word goes from zero to non-zero (cold SLOAD + 20,000 SSTORE = ~22,100 per author per transaction)",
      warm: "second round, same authors and words, next nonces: the steady state; headline figures are warm",
      singleTxSamples: `batch 1 and one-per-tx figures are the mean of ${SINGLE_TX_SAMPLES} transactions, each by another author`,
      channel: "a warm-up message was posted first, so the channel head's one-off zero-to-non-zero write is in no figure",
      onePerTx: "the same kind of messages, each sent alone with post()",
    },
    bodySizes: BODY_SIZES,
    batchSizes: BATCH_SIZES,
    gasPerMessage,
    gasPerMessageCold,
    distinctAuthors,
    distinctAuthorsCold,
    onePerTx,
    onePerTxCold,
    goal: {
      target: `at most ${GOAL} gas per 256-byte message at batch 100 (steady state)`,
      measured: headline,
      met: headline <= GOAL,
      cold: gasPerMessageCold["256"]["100"],
      distinctAuthors: distinctAuthors["256"]["100"],
    },
    eas: {
      ...easOut,
      payload: "256 random bytes; headline schema \"bytes payload\" (data = abi.encode(payload), 320 bytes)",
      recipient: "zero address, no expiration, no refUID, no value, no deadline (cheapest attestation)",
      ratioToChainMail256Batch100: Math.round((eas.gasPerAttestation / headline) * 100) / 100,
      ratioToChainMail256OnePerTx: Math.round((eas.gasPerAttestation / onePerTx["256"]) * 100) / 100,
    },
    sdk: {
      gasPerMessage: { "256": { "100": args.sdk.gasPerMessage } },
      method:
        `messages signed by @chainmail/client signForRelayer with its default nonce scheme (protocol NonceSource: one claimed random ` +
        `bitmap word per author and process, its 256 bits in order); ${args.sdk.authors} authors (one process each) round-robin into ` +
        `${args.sdk.batches} batches of ${args.sdk.batch}; the mean over all of them, fresh words included`,
      messages: args.sdk.messages,
      gasUsed: args.sdk.gasUsed,
      freshNonceWords: args.sdk.freshWords,
      costItems: args.sdk.costItems,
      goal: { target: `at most ${SDK_GOAL} (stretch 16,000)`, met: args.sdk.gasPerMessage <= SDK_GOAL },
    },
    breakdown: args.breakdowns,
    preCalldataFloor: args.preFloor
      ? {
          ...args.preFloor,
          why: "the same batch-100 scenarios on a Cancun network: no EIP-7623 calldata floor (Prague) and no EIP-7825 transaction gas cap (Osaka)",
        }
      : null,
    scenarios: results.map((r) => ({
      ...r.scenario,
      cold: roundOut(r.cold),
      warm: roundOut(r.warm),
    })),
    notes,
  };
}

function roundOut(r: ScenarioResult["cold"]) {
  return {
    transactions: r.transactions,
    messages: r.messages,
    gasUsed: r.gasUsed,
    gasPerMessage: Math.round(r.gasPerMessage * 10) / 10,
    calldataBytesPerMessage: r.calldata.reduce((s, d) => s + (d.length - 2) / 2, 0) / r.messages,
    calldataFloorPricedTransactions: r.floorPricedTransactions,
    splitNote: r.splitNote,
  };
}

function humanReport(
  report: ReturnType<typeof buildReport>,
  results: ScenarioResult[],
  eas: EasResult,
  breakdowns: Record<string, Breakdown | null>,
): string {
  const out: string[] = [];
  const n = report.network;
  out.push(`ChainMail gas per message — ${n.kind}, hardfork ${n.hardfork}, block gas limit ${gas(n.blockGasLimit)}, tx gas cap ${gas(n.txGasCap)}`);
  out.push("Gas per message = receipt gasUsed / messages, INCLUDING the 21,000 intrinsic gas. Bodies are random bytes (worst case for calldata).");
  out.push(`Batches: one channel, ${AUTHORS_PER_BATCH} authors per batch (batch 1: one author); consecutive nonces per author.`);
  out.push("");
  const header = ["body", "batch 1", "batch 10", "batch 100", "batch 100, 100 authors", "one per tx (post)"];
  for (const [title, main, distinct, single] of [
    ["STEADY STATE (warm: the authors' nonce words are already non-zero) — headline", report.gasPerMessage, report.distinctAuthors, report.onePerTx],
    ["COLD (each author's first message in a fresh nonce word: +~22,100 per author per tx)", report.gasPerMessageCold, report.distinctAuthorsCold, report.onePerTxCold],
  ] as const) {
    const cold = main === report.gasPerMessageCold;
    // s: the batch had to be split to fit a transaction; f: the transaction paid the EIP-7623 calldata floor.
    const cell = (value: number, size: number, batch: number, authors: number, mode: string) => {
      const r = results.find((x) => x.scenario.bodyBytes === size && x.scenario.batch === batch && x.scenario.authors === authors && x.scenario.mode === mode)!;
      const round = cold ? r.cold : r.warm;
      return gas(value) + (round.splitNote ? " s" : "") + (round.floorPricedTransactions ? " f" : "");
    };
    out.push(title);
    out.push(
      table(
        header,
        BODY_SIZES.map((size) => {
          const s = String(size);
          return [
            `${size} B`,
            cell(main[s]["1"], size, 1, 1, "batch"),
            cell(main[s]["10"], size, 10, AUTHORS_PER_BATCH, "batch"),
            cell(main[s]["100"], size, 100, AUTHORS_PER_BATCH, "batch"),
            cell(distinct[s]["100"], size, 100, DISTINCT_AUTHORS, "batch"),
            cell(single[s], size, 1, 1, "onePerTx"),
          ];
        }),
      ),
    );
    out.push("");
  }
  out.push(
    "  s = the batch of 100 did not fit one transaction (EIP-7825 caps a transaction at 16,777,216 gas on Osaka) and was sent as 50 + 50;\n" +
      "  f = the transaction paid the EIP-7623 calldata floor (21,000 + 10/40 gas per zero/non-zero calldata byte), more than its execution cost.",
  );
  out.push("");
  out.push(
    `EAS ${eas.easVersion} (npm ${eas.packageVersion}, bytecode from solc ${eas.solc}), attestByDelegation of a 256-byte payload, submitted by another account:`,
  );
  out.push(
    table(
      ["schema", "data bytes", "first (cold nonce)", "steady state"],
      eas.variants.map((v) => [v.schema, String(v.dataBytes), v.gasCold, v.gasWarm]),
    ),
  );
  if (eas.multi) out.push(`  multiAttestByDelegation, ${eas.multi.attestations} attestations in one tx ("bytes payload"): ${gas(eas.multi.gasPerAttestation)} gas each`);
  out.push(
    `  EAS steady state ("bytes payload") is ${report.eas.ratioToChainMail256Batch100}x ChainMail's 256 B batch-100 message and ${report.eas.ratioToChainMail256OnePerTx}x its one-per-tx post.`,
  );
  out.push("");
  const g = report.goal;
  if (report.preCalldataFloor) {
    const pf = report.preCalldataFloor;
    out.push(`Reference: batch 100 (10 authors) on a ${pf.hardfork} network, before the EIP-7623 calldata floor and the EIP-7825 gas cap:`);
    out.push(
      table(
        ["body", `${n.hardfork} warm`, `${pf.hardfork} warm`, `${pf.hardfork} cold`],
        BODY_SIZES.map((size) => [`${size} B`, report.gasPerMessage[String(size)]["100"], pf.gasPerMessage[String(size)]["100"], pf.gasPerMessageCold[String(size)]["100"]]),
      ),
    );
    out.push("");
  }
  out.push(`Goal: ${g.target}. Measured ${gas(g.measured)} -> ${g.met ? "MET" : "NOT MET"} (cold ${gas(g.cold)}, 100 distinct authors ${gas(g.distinctAuthors)}).`);
  const sdk = report.sdk;
  out.push(
    `SDK-made messages (256 B, batch 100, ${AUTHORS_PER_BATCH} authors, the SDK's own nonces): ${gas(sdk.gasPerMessage["256"]["100"])} gas/msg over ${sdk.messages} messages ` +
      `(${sdk.freshNonceWords} fresh nonce words) -> ${sdk.goal.met ? "MET" : "NOT MET"} (${sdk.goal.target}).`,
  );
  if (sdk.costItems) {
    out.push("  per message, traced over every SDK batch:");
    for (const [item, value] of Object.entries(sdk.costItems)) out.push(`    ${item.padEnd(10)} ${gas(value).padStart(6)}`);
  }
  out.push("");
  for (const [key, title] of [
    ["warm", "Where the gas goes: one 256-byte message in a batch of 100 from 10 authors, steady state"],
    ["cold", "Same batch size, cold (first round: nonce words zero -> non-zero)"],
  ] as const) {
    const b = breakdowns[key];
    if (!b) continue;
    out.push(title);
    out.push(breakdownTable(b));
    out.push(
      `  calldata ${gas(b.calldata.bytes)} bytes (${b.calldata.zeroBytes} zero, ${b.calldata.nonZeroBytes} non-zero); ` +
        `EIP-7623 floor ${b.calldataFloorApplies ? "APPLIES" : "does not apply"} (floor ${gas(21_000 + b.calldata.floorGas)} < gasUsed). ` +
        `Trace check: gasUsed - (21,000 + calldata + opcodes) = ${b.traceResidual ?? "n/a"}.`,
    );
    out.push("");
  }
  if (report.notes.length) {
    out.push("Notes:");
    for (const note of report.notes) out.push(`  - ${note}`);
  }
  return out.join("\n");
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`gas bench failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
