/**
 * fast-check arbitraries of the `.proto` files' messages, from their protobuf-es descriptors:
 * plain init objects (oneofs as `{ case, value }`) that both protobuf-es's `create` and the
 * generated encoders take. Shared by `codec.test.ts` and `codecDiff.test.ts`.
 */
import fc from "fast-check";
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

/** An arbitrary value of field `f` (as protobuf-es holds it), zero included. */
function arbField(f: DescField, depth: number): fc.Arbitrary<unknown> {
  const scalar = (t: ScalarType): fc.Arbitrary<unknown> => {
    switch (t) {
      case ScalarType.UINT32: case ScalarType.FIXED32: return fc.oneof(fc.constant(0), fc.nat(300), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
      case ScalarType.INT32: return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
      case ScalarType.UINT64: return fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
      case ScalarType.INT64: case ScalarType.SINT64:
        return fc.oneof(fc.constant(0n), fc.bigInt({ min: -300n, max: 300n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
      case ScalarType.BOOL: return fc.boolean();
      case ScalarType.STRING: return fc.oneof(fc.constant(""), fc.string({ maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 60 }), fc.string({ minLength: 120, maxLength: 300 }));
      case ScalarType.BYTES: return fc.uint8Array({ maxLength: 200 });
      default: throw new Error(`no arbitrary for ${ScalarType[t]}`);
    }
  };
  switch (f.fieldKind) {
    case "scalar": return scalar(f.scalar);
    case "enum": return fc.constantFrom(...f.enum.values.map((v) => v.number), 99);
    case "message": return depth > 2 ? fc.constant(undefined) : arbMessage(f.message, depth + 1);
    case "list":
      if (f.listKind === "message") return fc.array(arbMessage(f.message, depth + 1), { maxLength: depth > 1 ? 1 : 3 });
      if (f.listKind === "enum") return fc.array(fc.constantFrom(...f.enum.values.map((v) => v.number)), { maxLength: 5 });
      return fc.array(scalar(f.scalar), { maxLength: 40 });
    default: throw new Error("maps are not used");
  }
}

/** An arbitrary message of type `desc` as a plain init object (oneofs as `{ case, value }`). */
export function arbMessage(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const plain: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.fields) if (f.oneof === undefined) plain[f.localName] = arbField(f, depth);
  const oneofs: Record<string, fc.Arbitrary<unknown>> = {};
  for (const o of desc.oneofs) {
    oneofs[o.localName] = fc.oneof(
      fc.constant({ case: undefined }),
      ...o.fields.map((f) => arbField(f, depth).map((value) => ({ case: f.localName, value }))),
    );
  }
  return fc.record({ ...plain, ...oneofs });
}

