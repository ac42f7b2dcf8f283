/**
 * Bytes <-> frames, as Schemas. These are what the server and client run:
 * `FrameFromBytes` for whole frames, `FrameFromParts` for the streaming
 * decoder, which has already decoded the header to know where a frame ends.
 */
import { Data, Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { HEADER_SIZE } from "./Constants.ts"
import { Frame, FrameMembers, type FrameTag } from "./Frame.ts"
import {
  decodeParts,
  encodeChunks,
  encodeWhole,
  type FieldIssue,
  headerOf,
  isChunked,
  isFieldIssue,
  joinChunks,
  kindOf,
  withOwnedBytes
} from "./FrameLayout.ts"
import { Header, readFrameLength, readHeaderFields, readKindFields } from "./Header.ts"

/**
 * A frame that could not be decoded. `field` names the part of the layout
 * that is wrong ("len", "class", "type", "arg", "body", ...). `header` is
 * set when the header itself was readable, so a server can still answer
 * the frame's reqno. `fatal` means the byte stream cannot be cut past this
 * point (the length itself is unusable) and the connection must end.
 */
export class FrameDecodeError extends Data.TaggedError("FrameDecodeError")<{
  readonly field: string
  readonly message: string
  readonly header: Header | undefined
  readonly fatal: boolean
}> {}

/** A frame that our own code built with fields out of range. */
export class FrameEncodeError extends Data.TaggedError("FrameEncodeError")<{
  readonly tag: string
  readonly message: string
}> {}

const toSchemaIssue = (i: FieldIssue, input: unknown): SchemaIssue.Issue =>
  new SchemaIssue.Pointer([i.field], new SchemaIssue.InvalidValue({ message: i.message }, input))

/** The header and body of one frame, cut from the stream. */
export const FrameParts = Schema.Struct({ header: Header, body: Schema.Uint8Array })
export type FrameParts = typeof FrameParts.Type

export const FrameFromParts = FrameParts.pipe(
  Schema.decodeTo(
    Frame,
    SchemaTransformation.transformEffect({
      decode: (parts) => {
        const r = decodeParts(parts.header, parts.body)
        return isFieldIssue(r) ? Effect.fail(toSchemaIssue(r, parts)) : Effect.succeed(r)
      },
      encode: (frame) => Effect.succeed({ header: headerOf(frame), body: encodeWhole(frame).subarray(HEADER_SIZE) })
    })
  )
)

export const FrameFromBytes = Schema.Uint8Array.pipe(
  Schema.decodeTo(
    Frame,
    SchemaTransformation.transformEffect({
      decode: (bytes) => {
        if (bytes.byteLength < HEADER_SIZE) {
          return Effect.fail(toSchemaIssue({ field: "len", message: `a frame needs at least ${HEADER_SIZE} bytes, got ${bytes.byteLength}` }, bytes))
        }
        const fields = readHeaderFields(bytes)
        if (fields.len < BigInt(HEADER_SIZE)) {
          return Effect.fail(toSchemaIssue({ field: "len", message: `len ${fields.len} is shorter than the ${HEADER_SIZE}-byte header` }, bytes))
        }
        const r = decodeParts(fields, bytes.subarray(HEADER_SIZE))
        return isFieldIssue(r) ? Effect.fail(toSchemaIssue(r, bytes)) : Effect.succeed(r)
      },
      encode: (frame) => Effect.succeed(encodeWhole(frame))
    })
  )
)

const formatIssue = SchemaIssue.makeFormatterDefault()

/** The frame that `bytes` hold (decodeParts checks `len` against them); `input` is what an issue names. */
const decodeWholeFrame = (bytes: Uint8Array, input: unknown) => {
  const r = decodeParts(readHeaderFields(bytes), bytes.subarray(HEADER_SIZE))
  return isFieldIssue(r) ? Effect.fail(toSchemaIssue(r, input)) : Effect.succeed(r)
}

/**
 * FrameFromBytes narrowed to one message kind. decodeFrame reads the kind
 * from the header first (kindOf) and decodes through that kind's Schema:
 * the same checks as the union, without matching 17 members per frame
 * (about twice as fast, see BENCHMARKS.md). Encoding picks by `_tag` the
 * same way.
 */
const bytesToMember = (tag: FrameTag) =>
  Schema.Uint8Array.pipe(
    Schema.decodeTo(
      FrameMembers[tag] as unknown as Schema.Codec<Frame, Frame>,
      SchemaTransformation.transformEffect({
        decode: (bytes: Uint8Array) => decodeWholeFrame(bytes, bytes),
        encode: (frame: Frame) => Effect.succeed(encodeWhole(frame))
      })
    )
  )

/**
 * A kind's Schema over the pieces a frame is written in: the head, then a
 * large payload as it is (encodeChunks). Decoding joins them and reads the
 * frame as bytesToMember does.
 */
const chunksToMember = (tag: FrameTag) =>
  Schema.Array(Schema.Uint8Array).pipe(
    Schema.decodeTo(
      FrameMembers[tag] as unknown as Schema.Codec<Frame, Frame>,
      SchemaTransformation.transformEffect({
        decode: (chunks: ReadonlyArray<Uint8Array>) => decodeWholeFrame(joinChunks(chunks), chunks),
        encode: (frame: Frame) => Effect.succeed(encodeChunks(frame))
      })
    )
  )

const chunkEncoders = new Map(
  (Object.keys(FrameMembers) as Array<FrameTag>).map((tag) => [tag, Schema.encodeUnknownResult(chunksToMember(tag))])
)

const memberCodecs = new Map(
  (Object.keys(FrameMembers) as Array<FrameTag>).map((tag) => {
    const schema = bytesToMember(tag)
    return [tag, { decode: Schema.decodeUnknownResult(schema), encode: Schema.encodeUnknownResult(schema) }]
  })
)

/** The first field a Schema issue points at, and its message. */
const describeIssue = (issue: SchemaIssue.Issue): { field: string; message: string } => {
  const path: Array<string> = []
  let current: SchemaIssue.Issue = issue
  while (current._tag === "Pointer" || current._tag === "Composite" || current._tag === "Encoding") {
    if (current._tag === "Encoding") {
      current = current.issue
    } else if (current._tag === "Pointer") {
      path.push(...current.path.map(String))
      current = current.issue
    } else {
      const first = current.issues[0]
      if (first === undefined) break
      current = first
    }
  }
  const message = current._tag === "InvalidValue" && typeof current.annotations?.message === "string"
    ? current.annotations.message
    : formatIssue(current)
  return { field: path.join(".") || "frame", message }
}

const decodeBytes = Schema.decodeUnknownResult(FrameFromBytes)
const decodePartsSchema = Schema.decodeUnknownResult(FrameFromParts)
const encodeBytes = Schema.encodeUnknownResult(FrameFromBytes)

const toDecodeError = <A>(
  result: Result.Result<A, Schema.SchemaError>,
  header: Header | undefined
): Result.Result<A, FrameDecodeError> =>
  Result.mapError(result, (e) => new FrameDecodeError({ ...describeIssue(e.issue), header, fatal: false }))

const kind = { class: 0, type: 0, arg: 0 }

/** Decodes one whole frame (exactly `len` bytes). */
export const decodeFrame = (bytes: Uint8Array): Result.Result<Frame, FrameDecodeError> => {
  let tag: FrameTag | undefined
  if (bytes.byteLength >= HEADER_SIZE && readFrameLength(bytes) === bytes.byteLength) {
    readKindFields(bytes, kind)
    const k = kindOf(kind)
    if (typeof k === "string") tag = k
  }
  const decoded = (tag !== undefined ? memberCodecs.get(tag)!.decode : decodeBytes)(bytes)
  if (Result.isSuccess(decoded)) return decoded as Result.Result<Frame, never>
  // the header, for the error only: a server answers the frame's reqno
  const header = bytes.byteLength >= HEADER_SIZE ? readHeaderFields(bytes) : undefined
  const result = toDecodeError(decoded, header)
  // a whole frame whose len is unusable cannot be skipped either
  return Result.isFailure(result) && result.failure.field === "len"
    ? Result.fail(new FrameDecodeError({ field: "len", message: result.failure.message, header, fatal: true }))
    : result
}

/**
 * decodeFrame for bytes in a buffer of their own that the caller gives up
 * (nothing else reads or writes it afterwards): the frame's data fields
 * are views of it, not copies.
 */
export const decodeOwnedFrame = (bytes: Uint8Array): Result.Result<Frame, FrameDecodeError> =>
  withOwnedBytes(() => decodeFrame(bytes))

/** Decodes a header and the body the stream cut for it. */
export const decodeFrameParts = (header: Header, body: Uint8Array): Result.Result<Frame, FrameDecodeError> =>
  toDecodeError(decodePartsSchema({ header, body }), header)

/** The exact bytes of a frame; fails if a field is out of its C type's range. */
export const encodeFrameResult = (frame: Frame): Result.Result<Uint8Array, FrameEncodeError> => {
  const encode = memberCodecs.get(frame._tag)?.encode ?? encodeBytes
  return Result.mapError(encode(frame), (e) => new FrameEncodeError({ tag: String(frame._tag), message: e.message }))
}

/**
 * The bytes of a frame as the pieces to write one after the other (the
 * same bytes as encodeFrameResult): a large payload is not copied. A frame
 * that goes out whole takes the whole-frame codec: the chunks' Schema
 * checks an array, which costs more than the rest of a small frame.
 */
export const encodeFrameChunksResult = (frame: Frame): Result.Result<ReadonlyArray<Uint8Array>, FrameEncodeError> => {
  const member = memberCodecs.get(frame._tag)
  if (member !== undefined && !isChunked(frame)) {
    const whole = member.encode(frame)
    return Result.isSuccess(whole)
      ? Result.succeed([whole.success])
      : Result.fail(new FrameEncodeError({ tag: String(frame._tag), message: whole.failure.message }))
  }
  const encode = chunkEncoders.get(frame._tag)
  if (encode === undefined) return Result.fail(new FrameEncodeError({ tag: String(frame._tag), message: "not a frame" }))
  return Result.mapError(encode(frame), (e) => new FrameEncodeError({ tag: String(frame._tag), message: e.message }))
}

export const encodeFrame = (frame: Frame): Effect.Effect<Uint8Array, FrameEncodeError> =>
  Effect.fromResult(encodeFrameResult(frame))
