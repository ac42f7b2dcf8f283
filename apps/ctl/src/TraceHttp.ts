/**
 * The one HTTP request `sysproxy trace` makes: a GET of the server's
 * /trace, its body read as it comes, for as long as it lasts. node:http,
 * not fetch: fetch (undici) gives up on a body after 300 s without data,
 * and a trace is silent by design whenever no matching call runs; a
 * node:http response has no idle timeout. node:http is imported when the
 * request is made, so the other tools do not load it at start-up (the
 * HTTP clients of effect/http would bring node:tls to every start).
 */
import { NodeStream } from "@effect/platform-node"
import { Data, Effect, type Scope, Stream } from "effect"
import type * as Http from "node:http"

/** The request failed: `reason` is the system's code (ECONNREFUSED) or the message. */
export class TraceHttpError extends Data.TaggedError("TraceHttpError")<{ readonly reason: string }> {}

export interface TraceResponse {
  readonly status: number
  /** The body's bytes as they arrive; the stream ends when the server ends the response. */
  readonly body: Stream.Stream<Uint8Array, TraceHttpError>
}

const failure = (e: unknown) =>
  new TraceHttpError({
    reason: typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : String(e)
  })

/** GETs `url`; the response is closed (and the request aborted) when the scope closes. */
export const getStreaming = (url: URL): Effect.Effect<TraceResponse, TraceHttpError, Scope.Scope> =>
  Effect.gen(function*() {
    const http = yield* Effect.promise(() => import("node:http"))
    const response = yield* Effect.acquireRelease(
      Effect.callback<Http.IncomingMessage, TraceHttpError>((resume) => {
        // a connection of its own (agent: false): nothing pools it, and nothing times it out
        const request = http.get(url, { agent: false }, (res) => resume(Effect.succeed(res)))
        request.on("error", (e) => resume(Effect.fail(failure(e))))
        return Effect.sync(() => void request.destroy())
      }),
      (res) => Effect.sync(() => void res.destroy())
    )
    return {
      status: response.statusCode ?? 0,
      body: NodeStream.fromReadable<Uint8Array, TraceHttpError>({ evaluate: () => response, onError: failure })
    }
  })

/** The whole body as text (a refusal's one line). */
export const bodyText = (response: TraceResponse): Effect.Effect<string, TraceHttpError> =>
  response.body.pipe(Stream.decodeText(), Stream.mkString)
