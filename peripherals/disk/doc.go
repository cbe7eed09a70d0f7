// Package disk is a small SAN target: a server that serves one
// file-backed disk image over TCP, and the client a node's disk device
// talks to it with (docs/disks.md).
//
// Every request carries its client's identity and a sequence number the
// client chose. The server fsyncs a write before it answers, and keeps,
// per client, the answers to its last writes in a table it persists next
// to the image: a write sent again with the same (client, seq) — by a node
// after a failover, or by a client that lost the answer — is not applied
// again but answered with its first answer, across server restarts too.
//
// The client reports a request whose connection broke before its answer
// as uncertain (ErrUncertain): the caller may send it again with the same
// sequence number, which the server's table makes safe.
package disk
