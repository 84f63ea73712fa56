// Package duis speaks DUIS, the XML interface of the DCC User Gateway:
// it parses documents under limits that refuse hostile input, validates and
// decodes sr:Request against the spec's DUIS mapping (spec/duis.cue), signs
// and verifies the enveloped XML signatures DUIS uses, reads DCC user
// certificates (whose x500UniqueIdentifier crypto/x509 refuses), and
// builds sr:Response documents.
//
// What is validated is exactly what Parse, DecodeRequest and Verify say:
// the envelope (Header, RequestID, sequencing, CommandVariant, SRV and the
// Body element's name) and the body fields the spec maps. The rest of a
// Body is not checked against the DUIS XSD: dccgate ships no schema file.
//
// Canonicalization is implemented here (Canonical, ExclusiveCanonical) for
// the subset Parse accepts: no DTD, no processing instructions, attribute
// values without literal tabs or line breaks, comments dropped. With
// DCCGATE_DUIS_INTEROP set, TestInteropDCCBoxed checks it against a
// response DCC Boxed signed.
package duis
