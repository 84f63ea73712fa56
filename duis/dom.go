package duis

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Limits bound what Parse accepts.
type Limits struct {
	MaxBytes    int // the whole document
	MaxDepth    int // element nesting
	MaxElements int
	MaxAttrs    int // per element
}

// DefaultLimits suit DUIS requests: the largest Body (a tariff, a firmware
// image reference) is a few tens of kilobytes.
var DefaultLimits = Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxElements: 20000, MaxAttrs: 16}

// Attr is an attribute as written: prefix, local name, value. Namespace
// declarations are attributes with Prefix "xmlns" or Local "xmlns".
type Attr struct {
	Prefix, Local, Value string
}

// Node is an Element or a Text (comments and processing instructions are
// refused or dropped at parse time).
type Node interface{ node() }

// Text is character data.
type Text string

func (Text) node() {}

// Element is an element with its attributes and children. Space is its
// resolved namespace URI.
type Element struct {
	Prefix, Local string
	Space         string
	Attrs         []Attr
	Children      []Node
	Parent        *Element
}

func (*Element) node() {}

// Document is a parsed document: one root element.
type Document struct {
	Root *Element
}

// ParseError is a structure error with a stable code (see Code*).
type ParseError struct {
	Code    string
	Message string
}

func (e *ParseError) Error() string { return "duis: " + e.Code + ": " + e.Message }

// Is matches on the code, so errors.Is(err, &ParseError{Code: CodeXML}) works.
func (e *ParseError) Is(target error) bool {
	t, ok := target.(*ParseError)
	return ok && t.Code == e.Code
}

// utf8BOM is the UTF-8 encoding of U+FEFF, the byte-order mark.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func perr(code, format string, args ...any) error {
	return &ParseError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Parse reads one XML document under the limits. Refused: a DOCTYPE or any
// other directive (no DTD, so no entity can be declared or expanded),
// processing instructions other than the XML declaration, an encoding other
// than UTF-8, undeclared namespace prefixes, more than one root element,
// content outside the root other than whitespace, documents, depth, element
// counts or attribute counts above the limits, and attribute values holding
// literal tabs or line breaks (whose normalisation C14N would need).
// Comments are dropped: C14N without comments does not see them. A UTF-8
// byte-order mark as the document's first bytes is legal XML and is
// skipped (it is no part of the canonical form); one anywhere else is text.
func Parse(b []byte, lim Limits) (*Document, error) {
	if len(b) > lim.MaxBytes {
		return nil, perr(CodeTooLarge, "document of %d bytes is above the limit of %d", len(b), lim.MaxBytes)
	}
	b = bytes.TrimPrefix(b, utf8BOM)
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q: only UTF-8 is accepted", label)
	}
	var (
		doc      Document
		cur      *Element
		depth    int
		elements int
	)
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, perr(CodeXML, "%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if cur == nil && doc.Root != nil {
				return nil, perr(CodeXML, "more than one root element")
			}
			depth++
			elements++
			if depth > lim.MaxDepth {
				return nil, perr(CodeTooDeep, "nesting above %d", lim.MaxDepth)
			}
			if elements > lim.MaxElements {
				return nil, perr(CodeTooLarge, "more than %d elements", lim.MaxElements)
			}
			if len(t.Attr) > lim.MaxAttrs {
				return nil, perr(CodeTooLarge, "element %s has more than %d attributes", t.Name.Local, lim.MaxAttrs)
			}
			e := &Element{Prefix: t.Name.Space, Local: t.Name.Local, Parent: cur}
			seen := map[string]bool{}
			for _, a := range t.Attr {
				if strings.ContainsAny(a.Value, "\t\n\r") {
					return nil, perr(CodeXML, "attribute %s of %s holds a tab or line break", a.Name.Local, t.Name.Local)
				}
				k := a.Name.Space + ":" + a.Name.Local
				if seen[k] {
					return nil, perr(CodeXML, "attribute %s repeated", a.Name.Local)
				}
				seen[k] = true
				e.Attrs = append(e.Attrs, Attr{Prefix: a.Name.Space, Local: a.Name.Local, Value: a.Value})
			}
			sp, ok := e.lookupNS(e.Prefix)
			if !ok {
				return nil, perr(CodeXML, "undeclared namespace prefix %q", e.Prefix)
			}
			e.Space = sp
			for _, a := range e.Attrs {
				if a.Prefix != "" && a.Prefix != "xmlns" && a.Prefix != "xml" {
					if _, ok := e.lookupNS(a.Prefix); !ok {
						return nil, perr(CodeXML, "undeclared namespace prefix %q", a.Prefix)
					}
				}
			}
			if cur == nil {
				doc.Root = e
			} else {
				cur.Children = append(cur.Children, e)
			}
			cur = e
		case xml.EndElement:
			if cur == nil || t.Name.Space != cur.Prefix || t.Name.Local != cur.Local {
				return nil, perr(CodeXML, "mismatched end element %s", t.Name.Local)
			}
			cur = cur.Parent
			depth--
		case xml.CharData:
			if cur == nil {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, perr(CodeXML, "text outside the root element")
				}
				continue
			}
			cur.Children = append(cur.Children, Text(string(t)))
		case xml.Comment:
		case xml.ProcInst:
			if t.Target != "xml" || doc.Root != nil || cur != nil {
				return nil, perr(CodeXML, "processing instruction %q", t.Target)
			}
		case xml.Directive:
			return nil, perr(CodeDTD, "DOCTYPE and other directives are refused")
		}
	}
	if doc.Root == nil {
		return nil, perr(CodeXML, "no root element")
	}
	if cur != nil {
		return nil, perr(CodeXML, "element %s not closed", cur.Local)
	}
	// Merge adjacent text nodes (a comment between two runs splits them).
	doc.Root.walk(func(e *Element) {
		var out []Node
		for _, c := range e.Children {
			if t, ok := c.(Text); ok && len(out) > 0 {
				if p, ok := out[len(out)-1].(Text); ok {
					out[len(out)-1] = p + t
					continue
				}
			}
			out = append(out, c)
		}
		e.Children = out
	})
	return &doc, nil
}

// lookupNS resolves a prefix ("" the default namespace) in scope at e.
func (e *Element) lookupNS(prefix string) (string, bool) {
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	for x := e; x != nil; x = x.Parent {
		for _, a := range x.Attrs {
			if prefix == "" && a.Prefix == "" && a.Local == "xmlns" {
				return a.Value, true
			}
			if prefix != "" && a.Prefix == "xmlns" && a.Local == prefix {
				return a.Value, true
			}
		}
	}
	return "", prefix == ""
}

func (e *Element) walk(f func(*Element)) {
	f(e)
	for _, c := range e.Children {
		if ce, ok := c.(*Element); ok {
			ce.walk(f)
		}
	}
}

// Elements returns the element children.
func (e *Element) Elements() []*Element {
	var out []*Element
	for _, c := range e.Children {
		if ce, ok := c.(*Element); ok {
			out = append(out, ce)
		}
	}
	return out
}

// Text returns the concatenated text children.
func (e *Element) Text() string {
	var b strings.Builder
	for _, c := range e.Children {
		if t, ok := c.(Text); ok {
			b.WriteString(string(t))
		}
	}
	return b.String()
}

// Attr returns an unprefixed attribute's value.
func (e *Element) Attr(local string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Prefix == "" && a.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// Is reports whether e is the element space:local.
func (e *Element) Is(space, local string) bool { return e.Space == space && e.Local == local }

// Find returns the first descendant (depth first) named space:local.
func (e *Element) Find(space, local string) *Element {
	for _, c := range e.Elements() {
		if c.Is(space, local) {
			return c
		}
		if f := c.Find(space, local); f != nil {
			return f
		}
	}
	return nil
}

func (e *Element) isNSDecl(a Attr) bool {
	return a.Prefix == "xmlns" || (a.Prefix == "" && a.Local == "xmlns")
}

// nsDecls returns the namespace declarations of e: prefix -> URI.
func (e *Element) nsDecls() map[string]string {
	m := map[string]string{}
	for _, a := range e.Attrs {
		switch {
		case a.Prefix == "xmlns":
			m[a.Local] = a.Value
		case a.Prefix == "" && a.Local == "xmlns":
			m[""] = a.Value
		}
	}
	return m
}

// inScope returns every namespace binding in scope at e.
func (e *Element) inScope() map[string]string {
	var chain []*Element
	for x := e; x != nil; x = x.Parent {
		chain = append(chain, x)
	}
	m := map[string]string{}
	for i := len(chain) - 1; i >= 0; i-- {
		for p, u := range chain[i].nsDecls() {
			m[p] = u
		}
	}
	return m
}

// Canonical writes e in Canonical XML 1.0 without comments (inclusive),
// skipping the element skip (the enveloped signature) and its subtree.
// With e the root, this is the document's canonical form.
func Canonical(e *Element, skip *Element) []byte {
	var b bytes.Buffer
	c14n(&b, e, skip, map[string]string{}, false)
	return b.Bytes()
}

// ExclusiveCanonical writes the subtree at e in Exclusive XML
// Canonicalization 1.0 without comments and with no InclusiveNamespaces.
func ExclusiveCanonical(e *Element) []byte {
	var b bytes.Buffer
	c14n(&b, e, nil, map[string]string{}, true)
	return b.Bytes()
}

// c14n writes e; rendered holds the namespace bindings the output
// ancestors rendered. Inclusive C14N renders every binding in scope that
// differs from what the output parent rendered; exclusive C14N only those
// of the prefixes the element visibly uses (its own, its attributes').
func c14n(b *bytes.Buffer, e, skip *Element, rendered map[string]string, exclusive bool) {
	if e == skip {
		return
	}
	scope := e.inScope()
	var candidates []string
	if exclusive {
		candidates = append(candidates, e.Prefix)
		for _, a := range e.Attrs {
			if !e.isNSDecl(a) && a.Prefix != "" && a.Prefix != "xml" && a.Prefix != e.Prefix {
				candidates = append(candidates, a.Prefix)
			}
		}
	} else {
		for p := range scope {
			candidates = append(candidates, p)
		}
	}
	type ns struct{ prefix, uri string }
	var out []ns
	next := make(map[string]string, len(rendered)+len(candidates))
	for p, u := range rendered {
		next[p] = u
	}
	for _, p := range candidates {
		u := scope[p]
		r, has := rendered[p]
		if p == "" {
			if r == u {
				continue
			}
		} else if has && r == u {
			continue
		}
		out = append(out, ns{p, u})
		next[p] = u
	}
	sort.Slice(out, func(i, j int) bool { return out[i].prefix < out[j].prefix })
	type attr struct{ uri, local, qname, value string }
	var attrs []attr
	for _, a := range e.Attrs {
		if e.isNSDecl(a) {
			continue
		}
		uri := ""
		qn := a.Local
		if a.Prefix != "" {
			uri, _ = e.lookupNS(a.Prefix)
			qn = a.Prefix + ":" + a.Local
		}
		attrs = append(attrs, attr{uri, a.Local, qn, a.Value})
	}
	sort.Slice(attrs, func(i, j int) bool {
		if attrs[i].uri != attrs[j].uri {
			return attrs[i].uri < attrs[j].uri
		}
		return attrs[i].local < attrs[j].local
	})
	qn := e.Local
	if e.Prefix != "" {
		qn = e.Prefix + ":" + e.Local
	}
	b.WriteByte('<')
	b.WriteString(qn)
	for _, n := range out {
		if n.prefix == "" {
			b.WriteString(` xmlns="`)
		} else {
			b.WriteString(` xmlns:` + n.prefix + `="`)
		}
		escapeAttr(b, n.uri)
		b.WriteByte('"')
	}
	for _, a := range attrs {
		b.WriteString(" " + a.qname + `="`)
		escapeAttr(b, a.value)
		b.WriteByte('"')
	}
	b.WriteByte('>')
	for _, c := range e.Children {
		switch x := c.(type) {
		case Text:
			escapeText(b, string(x))
		case *Element:
			c14n(b, x, skip, next, exclusive)
		}
	}
	b.WriteString("</" + qn + ">")
}

func escapeAttr(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '"':
			b.WriteString("&quot;")
		case '\t':
			b.WriteString("&#x9;")
		case '\n':
			b.WriteString("&#xA;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}

func escapeText(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}
