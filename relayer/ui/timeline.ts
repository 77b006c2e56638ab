/**
 * The timeline page: a read-only view of the relayer's channels. Every message is
 * verified here, in the browser, with the protocol package's own code (digestOf,
 * recoverAuthor, ChannelRun), from the message itself: the page trusts neither the
 * relayer nor the network that carried the JSON. No key ever enters the page.
 *
 * All text from messages goes into the DOM as textContent, never as HTML: a message is
 * written by whoever holds a member key, and the page must not run what they wrote.
 */
import {
  bodyToText,
  ChannelRun,
  digestOf,
  recoverAuthor,
  type ChannelDeliveries,
  type ChannelList,
  type ChannelMessages,
  type Info,
  type PostedMessageJson,
  type RegistryLocation,
  type RunStep,
} from "@chainmail/protocol";

/** How often the page asks for new messages and deliveries (bounded: one request in flight). */
const POLL_MS = 2_000;

interface Verdict {
  status: "verified" | "joined" | "failed";
  why: string;
}

interface ChannelView {
  id: string;
  run: ChannelRun;
  messages: Array<{ message: PostedMessageJson; verdict: Verdict; element: HTMLElement }>;
  nextSeq: number;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const json = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(json as { message?: string }).message ?? ""}`);
  return json as T;
}

/** Checks one message with the protocol's verifier: digest from its fields, signature to its author, head from the previous head. */
export function verify(location: RegistryLocation, run: ChannelRun, m: PostedMessageJson): Verdict {
  let step: RunStep;
  try {
    const message = {
      channel: m.channel,
      author: m.author,
      body: m.body,
      contentType: m.contentType,
      timestamp: BigInt(m.timestamp),
      replyTo: BigInt(m.replyTo),
      nonce: BigInt(m.nonce),
      signature: m.signature,
    };
    const digest = digestOf(location, message);
    const signer = recoverAuthor(location, message, digest);
    step = run.step({ seq: BigInt(m.seq), digest, claimedDigest: m.digest, head: m.head, signed: signer !== null && signer.toLowerCase() === m.author.toLowerCase() });
  } catch (error) {
    return { status: "failed", why: `unreadable: ${(error as Error).message}` };
  }
  if (step.status === "broken") return { status: "failed", why: step.findings.map((f) => f.kind).join(", ") };
  if (step.status === "joined") return { status: "joined", why: "first message seen; its head is trusted as the start" };
  return { status: "verified", why: "digest, signature and head chain check out" };
}

function short(address: string): string {
  return `${address.slice(0, 8)}…${address.slice(-4)}`;
}

function contentOf(m: PostedMessageJson): HTMLElement {
  if (m.contentType === 1 || m.contentType === 2) return el("div", "body", bodyToText(m.body));
  return el("div", "body binary", `${m.contentTypeName}, ${(m.body.length - 2) / 2} bytes`);
}

function renderMessage(m: PostedMessageJson, verdict: Verdict): HTMLElement {
  const item = el("li", `message${m.replyTo !== "0" ? " reply" : ""}${verdict.status === "failed" ? " failed" : ""}`);
  item.dataset.seq = m.seq;
  item.dataset.verdict = verdict.status;
  const meta = el("div", "meta");
  meta.append(el("span", "seq", `#${m.seq}`), el("span", "author", short(m.author)), el("time", "time", new Date(Number(m.timestamp) * 1000).toLocaleString()));
  meta.querySelector(".author")!.setAttribute("title", m.author);
  if (m.replyTo !== "0") meta.append(el("span", "replyto", `↳ reply to #${m.replyTo}`));
  const foot = el("div", "foot");
  const badge = el("span", `badge ${verdict.status}`, verdict.status === "verified" ? "✓ verified" : verdict.status === "joined" ? "◐ start of view" : `✗ failed: ${verdict.why}`);
  badge.title = verdict.why;
  foot.append(badge, el("span", "ticks"));
  item.append(meta, contentOf(m), foot);
  return item;
}

class Timeline {
  private location!: RegistryLocation;
  private view: ChannelView | undefined;
  private polling = false;

  async start() {
    const info = await getJson<Info>("/v1/info");
    this.location = { chainId: BigInt(info.chainId), address: info.registry };
    $("where").textContent = `chain ${info.chainId} · registry ${info.registry}`;
    await this.loadChannels();
    window.addEventListener("hashchange", () => void this.select());
    await this.select();
    setInterval(() => void this.poll(), POLL_MS);
  }

  private selectedId(channels: ChannelList["channels"]): string | undefined {
    const wanted = decodeURIComponent(location.hash.replace(/^#/, ""));
    return (channels.find((c) => c.name === wanted || c.id === wanted) ?? channels[0])?.id;
  }

  private channels: ChannelList["channels"] = [];

  private async loadChannels() {
    this.channels = (await getJson<ChannelList>("/v1/channels")).channels;
    const list = $("channels");
    const selected = this.view?.id ?? this.selectedId(this.channels);
    list.replaceChildren(
      ...this.channels.map((c) => {
        const link = el("a", c.id === selected ? "selected" : undefined);
        link.href = `#${encodeURIComponent(c.name)}`;
        link.append(el("span", c.open ? undefined : "closed", c.name), el("span", "count", c.seq));
        const item = el("li");
        item.append(link);
        return item;
      }),
    );
  }

  private async select() {
    const id = this.selectedId(this.channels);
    if (!id) {
      $("channel-title").textContent = "No channels yet";
      return;
    }
    const channel = this.channels.find((c) => c.id === id)!;
    this.view = { id, run: new ChannelRun(), messages: [], nextSeq: 1 };
    $("channel-title").textContent = channel.name;
    $("messages").replaceChildren();
    $("teams").replaceChildren();
    await this.loadChannels();
    await this.poll();
  }

  /** New messages of the selected channel, and its delivery ticks. One poll at a time. */
  private async poll() {
    const view = this.view;
    if (!view || this.polling) return;
    this.polling = true;
    try {
      for (;;) {
        const page = await getJson<ChannelMessages>(`/v1/channels/${view.id}/messages?fromSeq=${view.nextSeq}&limit=200`);
        if (view !== this.view) return;
        for (const message of page.messages) {
          const verdict = verify(this.location, view.run, message);
          const element = renderMessage(message, verdict);
          $("messages").append(element);
          view.messages.push({ message, verdict, element });
          view.nextSeq = Number(message.seq) + 1;
        }
        if (page.nextFromSeq === null) break;
      }
      const failed = view.messages.filter((m) => m.verdict.status === "failed").length;
      $("channel-summary").textContent = `${view.messages.length} messages · ${failed === 0 ? "all verified in this browser" : `${failed} FAILED verification`} · channel id ${view.id.slice(0, 18)}…`;
      $("channel-summary").title = view.id;
      await this.loadChannels();
      await this.deliveries(view);
      $("status").textContent = `updated ${new Date().toLocaleTimeString()} · refreshes every ${POLL_MS / 1000} s`;
    } catch (error) {
      $("status").textContent = `cannot refresh: ${(error as Error).message}`;
    } finally {
      this.polling = false;
    }
  }

  private async deliveries(view: ChannelView) {
    let deliveries: ChannelDeliveries;
    try {
      deliveries = await getJson<ChannelDeliveries>(`/v1/channels/${view.id}/deliveries`);
    } catch {
      $("teams").replaceChildren(el("li", undefined, "deliveries unavailable (no Kafka on this relayer)"));
      return;
    }
    $("teams").replaceChildren(
      ...deliveries.teams.map((t) => el("li", t.lag > 0 ? "behind" : undefined, `${t.team}: ${t.lag === 0 ? "up to date" : `${t.lag} behind`} (seq ${t.deliveredSeq})`)),
    );
    for (const { message, element } of view.messages) {
      const ticks = element.querySelector(".ticks")!;
      ticks.replaceChildren(
        ...deliveries.teams.map((t) => {
          const delivered = BigInt(message.seq) <= BigInt(t.deliveredSeq);
          const tick = el("span", `tick${delivered ? " delivered" : ""}`, `${delivered ? "✓✓" : "·"} ${t.team}`);
          tick.title = delivered ? `${t.team} has received and verified this message` : `${t.team} has not received this message yet`;
          return tick;
        }),
      );
    }
  }
}

void new Timeline().start().catch((error) => {
  $("status").textContent = `cannot load: ${(error as Error).message}`;
});
