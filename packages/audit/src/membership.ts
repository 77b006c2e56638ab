/**
 * Channel membership through time, rebuilt from the registry's RoleGranted/RoleRevoked
 * logs for each channel's member role. A message at (block, logIndex) counts as posted
 * by a member when the author's last role change strictly before that position was a
 * grant: a grant earlier in the same block counts, one later in the block does not.
 */
import { getAddress } from "ethers";
import { ROLE_GRANTED_TOPIC, ROLE_REVOKED_TOPIC } from "@chainmail/protocol";
import type { RawLog } from "./log-source.js";

interface Change {
  blockNumber: number;
  logIndex: number;
  granted: boolean;
}

export class MembershipHistory {
  /** role -> account -> changes in chain order. */
  private readonly changes = new Map<string, Map<string, Change[]>>();

  add(logs: Iterable<RawLog>): void {
    for (const log of logs) {
      const topic = log.topics[0]?.toLowerCase();
      if (topic !== ROLE_GRANTED_TOPIC && topic !== ROLE_REVOKED_TOPIC) continue;
      const role = log.topics[1].toLowerCase();
      const account = getAddress("0x" + log.topics[2].slice(26)).toLowerCase();
      let byAccount = this.changes.get(role);
      if (!byAccount) this.changes.set(role, (byAccount = new Map()));
      let list = byAccount.get(account);
      if (!list) byAccount.set(account, (list = []));
      list.push({ blockNumber: log.blockNumber, logIndex: log.index, granted: topic === ROLE_GRANTED_TOPIC });
    }
    for (const byAccount of this.changes.values()) {
      for (const list of byAccount.values()) list.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    }
  }

  /** Whether `account` held `role` just before the log at (blockNumber, logIndex). */
  hadRole(role: string, account: string, blockNumber: number, logIndex: number): boolean {
    const list = this.changes.get(role.toLowerCase())?.get(account.toLowerCase());
    if (!list) return false;
    // Binary search for the last change strictly before the position.
    let lo = 0;
    let hi = list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = list[mid];
      if (c.blockNumber < blockNumber || (c.blockNumber === blockNumber && c.logIndex < logIndex)) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found >= 0 && list[found].granted;
  }
}
