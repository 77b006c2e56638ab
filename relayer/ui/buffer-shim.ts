// The protocol package converts hex with Node's Buffer (fast in Node); the browser gets
// the same API from the `buffer` package, injected where the bundle uses Buffer.
export { Buffer } from "buffer";
