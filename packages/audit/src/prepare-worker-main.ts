/** Inside a worker thread: prepares the batches the pool sends (see prepare.ts). */
import { parentPort, workerData } from "node:worker_threads";
import { MessagePostedDecoder } from "@chainmail/protocol";
import { packBatch, prepareBatch, unpackLogs } from "./prepare.js";
import { recoveryBackend, type RecoveryBackendName } from "@chainmail/protocol/signatures";

const { registry, backend } = workerData as { registry: { chainId: bigint; address: string }; backend: RecoveryBackendName };
const decoder = new MessagePostedDecoder(registry);
const recover = recoveryBackend(backend);
parentPort!.on("message", (packed: string) => parentPort!.postMessage(packBatch(prepareBatch(decoder, recover, unpackLogs(packed)))));
parentPort!.postMessage("ready");
