/** The first two lines of every bin (see launch.js). */
export declare const BIN_PRELUDE: ReadonlyArray<string>

/** Runs the bundled program at `programUrl` as the command `name`, on the pinned Node when this one is too old. */
export declare const launch: (name: string, programUrl: URL) => Promise<void>
