// Package evidence turns adwatch's captures into evidence a court and an
// archivist can read: Export writes the captured pages and images of a
// selection of ads as WARC 1.1 (ISO 28500), and Verify re-reads such a
// file, recomputes every digest and compares each capture with the one
// adwatch stored.
//
// A file starts with a warcinfo record (the software, who exported, when,
// the selection). Each capture then gives three records written one after
// the other: a request record (the request as adwatch sent it), a response
// record (the status line, the header fields and the body exactly as
// served) and a metadata record (adwatch's ad ids, site, city, the page's
// SHA-256, the stream sequence, the server address), linked to each other
// by WARC-Concurrent-To. A capture made before adwatch recorded the HTTP
// exchange is a resource record (the body alone) with its metadata record.
//
// Every record has WARC-Block-Digest and WARC-Payload-Digest as SHA-1 in
// base32 ("sha1:…"), what the archivists' tools (warcio, pywb, CDX
// indexers) expect; the metadata record also gives the SHA-256 in hex that
// adwatch names captures by. A .warc.gz file holds one gzip member per
// record.
package evidence
