// `npm start`: until the server and the kernel land, say what exists.
process.stdout.write(
  "sysproxy: the wire protocol package (packages/protocol) is built.\n" +
    "The server (packages/server) and its default kernel are not there yet; `npm test` runs what exists.\n"
)
