/**
 * grpc.reflection.v1.ServerReflection: lets tools (grpcurl, Postman, ...) list the
 * services and fetch their descriptors without the .proto files. The descriptors are
 * the ones protoc-gen-es embedded in the generated code.
 */
import { createRegistry, toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { reflection } from "@chainmail/protocol/grpc";

const { ServerReflection } = reflection;

export function reflectionService(files: DescFile[], serviceNames: string[]): ServiceImpl<typeof ServerReflection> {
  const registry = createRegistry(...files);
  const byName = new Map<string, DescFile>();
  const index = (f: DescFile) => {
    byName.set(f.name.endsWith(".proto") ? f.name : `${f.name}.proto`, f);
    f.dependencies.forEach(index);
  };
  files.forEach(index);

  /** The file and every file it imports, each once, the file first. */
  function withDependencies(file: DescFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      f.dependencies.forEach(visit);
    };
    visit(file);
    return out;
  }

  function fileOfSymbol(symbol: string): DescFile | undefined {
    const desc = registry.get(symbol);
    if (desc) return desc.file;
    // A method (package.Service.Method) or a field: look its parent up.
    const dot = symbol.lastIndexOf(".");
    return dot > 0 ? fileOfSymbol(symbol.slice(0, dot)) : undefined;
  }

  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const r = request.messageRequest;
        const base = { validHost: request.host, originalRequest: request };
        const notFound = (what: string) => ({ ...base, messageResponse: { case: "errorResponse" as const, value: { errorCode: 5, errorMessage: `${what} not found` } } });
        switch (r.case) {
          case "listServices":
            yield { ...base, messageResponse: { case: "listServicesResponse", value: { service: serviceNames.map((name) => ({ name })) } } };
            break;
          case "fileByFilename": {
            const file = byName.get(r.value);
            yield file ? { ...base, messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } } } : notFound(`file ${r.value}`);
            break;
          }
          case "fileContainingSymbol": {
            const file = fileOfSymbol(r.value);
            yield file ? { ...base, messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file) } } } : notFound(`symbol ${r.value}`);
            break;
          }
          case "allExtensionNumbersOfType":
            yield { ...base, messageResponse: { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } } };
            break;
          default:
            yield notFound("extension");
        }
      }
    },
  };
}
