// Shared by the bench's server children (upstream, pass-throughs): listen on 127.0.0.1, print
// {"event":"listening","port":N} on stdout, and exit when the bench's stdin pipe closes or on SIGTERM.

/** @param server a node:http server; @param port 0 for any free port */
export function serveForBench(server, port = 0) {
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ event: 'listening', port: server.address().port }) + '\n');
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}
