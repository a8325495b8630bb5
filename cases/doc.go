// Package cases holds investigators' cases and their evidence export.
//
// A case gathers what an investigation has found: the profiles (one
// advertised person each, a possible victim) and single ads it concerns,
// the notes investigators wrote, the searches they ran, and who is
// assigned to it. Cases live in the JetStream key-value bucket
// adwatch_cases, one entry per case number. Every change is a
// read-modify-write at the revision read, tried again when another writer
// came first, so concurrent investigators never lose a note; the bucket
// keeps the last History states of each case.
//
// Export writes one zip of a case for the file: the case itself, every ad
// of the case and of each of its profiles (as CSV and JSON), a summary of
// each profile, the ads' images under their SHA-256, and last a manifest
// with the SHA-256 and size of every other file. An image the store does
// not hold, or whose bytes do not hash to its name, is listed in the
// manifest instead of failing the export.
//
// The CSV files are for spreadsheets: a cell of text taken from a site
// (a title, a URL, a poster's name, a handle) that begins with '=', '+',
// '-', '@', a tab or a carriage return is written with a leading
// apostrophe, so a spreadsheet shows it instead of running it as a
// formula. The JSON files hold every text exactly as captured.
package cases
