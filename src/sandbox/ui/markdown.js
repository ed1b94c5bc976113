// Small, safe Markdown → HTML renderer for CDS card `detail` (CDS Hooks 2.0.1 §Card Attributes says
// detail is GitHub Flavored Markdown). Safety first: the whole input is HTML-escaped before any
// Markdown is recognised, so no raw HTML from a service ever reaches the page; link targets are
// limited to http(s), mailto and relative URLs. Supported: paragraphs, headings, bold, italic,
// inline and fenced code, links, bullet and numbered lists, block quotes, rules and GFM tables.
// Plain ES module with no dependencies: the browser loads it as is and jest imports it for tests.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** @param {string} text */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** @param {string} text */
function unescapeHtml(text) {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_m, name) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name],
  );
}

/**
 * The URL if it is safe to put in an href (http, https, mailto, or relative), else null.
 * Browsers ignore tabs, newlines and leading control characters in URLs ("java\tscript:"), so those
 * are removed before the scheme is checked; backslashes are refused.
 * @param {string} url raw (unescaped) URL
 */
export function safeUrl(url) {
  // eslint-disable-next-line no-control-regex
  const cleaned = String(url).replace(/[\u0000-\u0020\u007f]/g, '');
  // Browsers read a backslash as a slash, which would make "/<backslash>evil.example" protocol-relative.
  if (cleaned.includes('\\')) return null;
  if (/^(https?:\/\/|mailto:)/i.test(cleaned)) return cleaned;
  if (/^(\/(?!\/)|#|\.{1,2}\/|\?)/.test(cleaned)) return cleaned;
  // Relative path without a scheme: no ":" before the first "/", "?" or "#".
  if (cleaned !== '' && !/^[^/?#]*:/.test(cleaned) && !cleaned.startsWith('//')) return cleaned;
  return null;
}

const PLACEHOLDER = '\u0000';

/**
 * Inline Markdown on already-escaped text.
 * @param {string} escaped
 */
function renderInline(escaped) {
  /** @type {string[]} */
  const held = [];
  const hold = (html) => `${PLACEHOLDER}${held.push(html) - 1}${PLACEHOLDER}`;

  let out = escaped.replace(/`([^`]+)`/g, (_m, code) => hold(`<code>${code}</code>`));
  // CommonMark backslash escapes: "\>" or "\*" is the character itself, never Markdown (services escape
  // "> 50 %" so it is not read as a block quote). The input is HTML-escaped already, so "\>" is "\&gt;".
  out = out.replace(/\\(&(?:amp|lt|gt|quot|#39);|[!-/:-@[-`{-~])/g, (_m, char) => hold(char));
  out = out.replace(/\[([^\]]+)\]\(([^()\s]+)\)/g, (_m, label, target) => {
    const url = safeUrl(unescapeHtml(target));
    if (url === null) return label;
    const external = /^https?:\/\//i.test(url);
    const attrs = external ? ' target="_blank" rel="noopener noreferrer"' : '';
    return hold(`<a href="${escapeHtml(url)}"${attrs}>${renderEmphasis(label)}</a>`);
  });
  out = renderEmphasis(out);
  return out.replace(new RegExp(`${PLACEHOLDER}(\\d+)${PLACEHOLDER}`, 'g'), (_m, i) => held[Number(i)]);
}

/** @param {string} text */
function renderEmphasis(text) {
  return text
    .replace(/\*\*(?=\S)([^*]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/__(?=\S)([^_]*?\S)__/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*(?=\S)([^*]*?\S)\*(?!\w)/g, '$1<em>$2</em>')
    .replace(/(^|[^_\w])_(?=\S)([^_]*?\S)_(?!\w)/g, '$1<em>$2</em>')
    .replace(/~~(?=\S)([^~]*?\S)~~/g, '<del>$1</del>');
}

const TABLE_SEPARATOR = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const ORDERED = /^\s*\d{1,9}[.)]\s+(.*)$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^&gt;\s?(.*)$/;
const FENCE = /^\s*```/;

/** @param {string} row */
function splitRow(row) {
  let line = row.trim();
  if (line.startsWith('|')) line = line.slice(1);
  if (line.endsWith('|') && !line.endsWith('\\|')) line = line.slice(0, -1);
  return line.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** @param {string} separator */
function alignments(separator) {
  return splitRow(separator).map((cell) => {
    const left = cell.startsWith(':');
    const right = cell.endsWith(':');
    return left && right ? 'center' : right ? 'right' : left ? 'left' : '';
  });
}

/**
 * GFM: a table starts with a header row followed by a delimiter row with the same number of cells.
 * @param {string} line
 * @param {string | undefined} next
 */
function isTableStart(line, next) {
  if (next === undefined || !line.includes('|') || !TABLE_SEPARATOR.test(next) || !next.includes('-')) return false;
  return splitRow(line).length === splitRow(next).length;
}

/**
 * @param {string} header
 * @param {string} separator
 * @param {string[]} rows
 */
function renderTable(header, separator, rows) {
  const aligns = alignments(separator);
  const cell = (tag, text, i) => {
    // A class rather than a style attribute: the page's CSP forbids inline styles.
    const align = aligns[i] ? ` class="align-${aligns[i]}"` : '';
    return `<${tag}${align}>${renderInline(text)}</${tag}>`;
  };
  const headCells = splitRow(header);
  const head = `<tr>${headCells.map((c, i) => cell('th', c, i)).join('')}</tr>`;
  const body = rows
    .map((r) => {
      const cells = splitRow(r);
      const padded = headCells.map((_h, i) => cells[i] ?? '');
      return `<tr>${padded.map((c, i) => cell('td', c, i)).join('')}</tr>`;
    })
    .join('');
  return `<table><thead>${head}</thead>${body ? `<tbody>${body}</tbody>` : ''}</table>`;
}

/**
 * Renders Markdown to an HTML string that is safe to assign to innerHTML.
 * @param {string | null | undefined} markdown
 * @returns {string}
 */
export function renderMarkdown(markdown) {
  if (markdown === null || markdown === undefined) return '';
  const lines = escapeHtml(String(markdown).replace(/\u0000/g, '')).replace(/\r\n?/g, '\n').split('\n');
  /** @type {string[]} */
  const out = [];
  /** @type {string[]} */
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push(`<p>${paragraph.map(renderInline).join('<br>')}</p>`);
    paragraph = [];
  };

  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      flush();
      i++;
      continue;
    }
    if (FENCE.test(line)) {
      flush();
      const code = [];
      i++;
      while (i < lines.length && !FENCE.test(lines[i])) code.push(lines[i++]);
      i++; // closing fence (or end of input)
      out.push(`<pre><code>${code.join('\n')}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      const level = heading[1].length;
      out.push(`<h${level}>${renderInline(heading[2])}</h${level}>`);
      i++;
      continue;
    }
    if (isTableStart(line, lines[i + 1])) {
      flush();
      const header = line;
      const separator = lines[i + 1];
      i += 2;
      const rows = [];
      while (i < lines.length && lines[i].trim() !== '' && lines[i].includes('|')) rows.push(lines[i++]);
      out.push(renderTable(header, separator, rows));
      continue;
    }
    if (RULE.test(line)) {
      flush();
      out.push('<hr>');
      i++;
      continue;
    }
    const listPattern = BULLET.test(line) ? BULLET : ORDERED.test(line) ? ORDERED : null;
    if (listPattern) {
      flush();
      const tag = listPattern === BULLET ? 'ul' : 'ol';
      const items = [];
      while (i < lines.length && listPattern.test(lines[i])) {
        const item = [listPattern.exec(lines[i])[1]];
        i++;
        // Indented continuation lines belong to the item.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !BULLET.test(lines[i]) && !ORDERED.test(lines[i])) {
          item.push(lines[i++].trim());
        }
        items.push(`<li>${renderInline(item.join(' '))}</li>`);
      }
      out.push(`<${tag}>${items.join('')}</${tag}>`);
      continue;
    }
    if (QUOTE.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(QUOTE.exec(lines[i++])[1]);
      // Re-render the quoted block; it is already escaped, so unescape once to avoid double escaping.
      out.push(`<blockquote>${renderMarkdown(unescapeHtml(quoted.join('\n')))}</blockquote>`);
      continue;
    }
    paragraph.push(line.trim());
    i++;
  }
  flush();
  return out.join('\n');
}
