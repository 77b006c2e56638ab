/**
 * A last line of defence for benchmarks that start background processes: a tiny
 * detached shell that waits for this process to end and then runs a clean-up command.
 *
 * Why: `tsx` (what `pnpm bench` runs) relays Ctrl-C to the script and SIGKILLs it
 * when the script does not acknowledge within ~60 ms, which a busy benchmark often
 * cannot. In-process clean-up then never runs, and detached children (hardhat node,
 * mirror, Kafka broker) would be left behind. The normal path cancels the guard and
 * stops things itself, in order.
 */
import { spawn } from "node:child_process";

export interface Guard {
  /** Normal clean-up is taking over: the guard exits without running its command. */
  cancel(): void;
}

export function guardAfterExit(command: string): Guard {
  const child = spawn("bash", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; ${command}`], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  return {
    cancel() {
      try {
        process.kill(child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    },
  };
}
