/** Types for markdown.js (a plain ES module so the browser can load it without a build step). */

/** Escapes &, <, >, " and ' for HTML text and attribute values. */
export function escapeHtml(text: string): string;

/** The URL when it is http(s), mailto or relative; null for anything else (javascript:, data:, …). */
export function safeUrl(url: string): string | null;

/** Renders card-detail Markdown to HTML that is safe for innerHTML. */
export function renderMarkdown(markdown: string | null | undefined): string;
