/**
 * Teams that subscribe to channels. A team reads each subscribed channel under one
 * stable Kafka consumer group, and that group's committed offsets are the evidence of
 * delivery: one group per team and channel, because a partition holds several channels
 * and a group's offset is per partition, so a group shared by two channels would mark
 * one channel read when only the other was.
 */
import { channelName } from "./messages.js";

/** Lower-case letters, digits and dashes, starting with a letter or digit, up to 63. */
export const TEAM_NAME_PATTERN = "^[a-z0-9][a-z0-9-]{0,62}$";

/** The sentence that refuses a team name, or null when it is valid. */
export function teamNameProblem(team: string): string | null {
  return new RegExp(TEAM_NAME_PATTERN).test(team)
    ? null
    : `The team name "${team.slice(0, 80)}" is not valid: use 1 to 63 lower-case letters, digits and dashes, starting with a letter or digit.`;
}

/** The consumer group a team reads a channel with: chainmail.team.<team>.<channel name, or its 0x id>. */
export function teamGroupId(team: string, channel: string): string {
  const name = channelName(channel);
  return `chainmail.team.${team}.${/^[A-Za-z0-9_-]{1,31}$/.test(name) ? name : channel.toLowerCase()}`;
}

export const DEFAULT_SUBSCRIPTIONS_TOPIC = "chainmail.subscriptions.v1";
