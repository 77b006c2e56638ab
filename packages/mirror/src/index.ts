export { ChainSource, type Finality, type MirroredEvent } from "./chain-source.js";
export { ensureTopics, FencedError, isFencedError, readCursor, readToEnd, readTopic, TransactionalSink, type ReadRecord, type TopicNames } from "./kafka-sink.js";
export { kafkajsLogCreator } from "./log.js";
export { MirrorMetrics, serveMetrics } from "./metrics.js";
export { backoff, ChainResetError, Mirror, splitByBlocks, type MirrorExit, type MirrorOptions } from "./mirror.js";
