// The `keccak` package ships no types; this is the part rawtx.ts uses.
declare module "keccak" {
  interface KeccakHash {
    update(data: Buffer): KeccakHash;
    digest(): Buffer;
  }
  export default function createKeccakHash(algorithm: "keccak256"): KeccakHash;
}
