/*
 * markdown.js: renders a provider's answer (Markdown, from a model we do
 * not control) into the page. Exposes the global `aigwMarkdown`:
 *
 *   aigwMarkdown.render(text)        the HTML markdown-it makes of it
 *   aigwMarkdown.fill(element, text) that HTML, checked, as element's children
 *
 * The answer is untrusted, so three fences stand between it and the DOM:
 * markdown-it with raw HTML off (a <script> in the text stays text), links
 * and autolinks only to http and https (no javascript:, data:, file:),
 * images off (a remote image would tell its server who reads the answer);
 * then fill() parses the HTML inside an inert <template> and keeps only
 * the elements and attributes Markdown makes, so a fault in the parser
 * still cannot put a script or an event handler in the page.
 * Needs vendor/markdown-it.min.js first (in Node: found by require).
 */
(function (root) {
	"use strict";

	var markdownit = root.markdownit;
	if (!markdownit && typeof require === "function") markdownit = require("./vendor/markdown-it.min.js");

	var LINK_OK = /^https?:\/\//i;

	var md = markdownit({ html: false, linkify: false, typographer: false, breaks: false });
	md.disable("image");
	md.validateLink = function (url) {
		return LINK_OK.test(String(url).trim());
	};

	// Elements and attributes markdown-it makes with the rules enabled above.
	var TAGS = {
		P: 1, BR: 1, HR: 1, H1: 1, H2: 1, H3: 1, H4: 1, H5: 1, H6: 1, STRONG: 1, EM: 1, S: 1, DEL: 1,
		CODE: 1, PRE: 1, BLOCKQUOTE: 1, UL: 1, OL: 1, LI: 1, A: 1,
		TABLE: 1, THEAD: 1, TBODY: 1, TR: 1, TH: 1, TD: 1,
	};
	var ATTRS = { A: { href: 1, title: 1 }, OL: { start: 1 } };

	function render(text) {
		return md.render(String(text == null ? "" : text));
	}

	// Drops what Markdown does not make: an unknown element goes with its
	// content (a <script>'s text must not become visible text either).
	function clean(node) {
		var kids = Array.prototype.slice.call(node.childNodes);
		for (var i = 0; i < kids.length; i++) {
			var n = kids[i];
			if (n.nodeType === 3) continue;
			if (n.nodeType !== 1 || !TAGS[n.nodeName]) {
				node.removeChild(n);
				continue;
			}
			var allowed = ATTRS[n.nodeName] || {};
			Array.prototype.slice.call(n.attributes).forEach(function (a) {
				if (!allowed[a.name]) n.removeAttribute(a.name);
			});
			if (n.nodeName === "A") {
				if (!LINK_OK.test(n.getAttribute("href") || "")) n.removeAttribute("href");
				n.setAttribute("rel", "noopener noreferrer nofollow");
				n.setAttribute("target", "_blank");
			}
			clean(n);
		}
	}

	function fill(element, text) {
		var doc = element.ownerDocument;
		var t = doc.createElement("template");
		t.innerHTML = render(text);
		clean(t.content);
		element.replaceChildren(t.content);
	}

	var api = { render: render, fill: fill, validateLink: md.validateLink };
	root.aigwMarkdown = api;
	if (typeof module === "object" && module && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
