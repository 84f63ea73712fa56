package duis

// Codes of the errors of this package: what a request failed on. Each is
// stable; the DUIS endpoints turn them into the response described in
// runtime/duisapi.
const (
	CodeTooLarge           = "too_large"           // above the size, element or attribute limits
	CodeTooDeep            = "too_deep"            // nesting above the depth limit
	CodeDTD                = "dtd"                 // a DOCTYPE or another directive
	CodeXML                = "xml"                 // not well-formed, or outside the accepted XML subset
	CodeStructure          = "structure"           // not an sr:Request of the shape validated (see DecodeRequest)
	CodeRequestID          = "request_id"          // RequestID not originator:target:counter
	CodeCommandVariant     = "command_variant"     // not 1-8, or not what the service permits
	CodeUnknownSRV         = "unknown_srv"         // an SRV DUIS does not have, or a Body element not the SRV's
	CodePostdated          = "postdated_srv"       // an SRV that postdates the source
	CodeSignature          = "signature"           // missing, malformed or not verifying
	CodeUnknownCertificate = "unknown_certificate" // KeyInfo names a certificate the registry lacks
)
