import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { escapeHtml, renderMarkdown, safeUrl } from '../../../src/sandbox/ui/markdown.js';

describe('renderMarkdown: safety', () => {
  it.each([
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '**<b onclick="x()">bold</b>**',
    '| a | b |\n|---|---|\n| <iframe src="//evil"> | x |',
    '- <svg onload=alert(1)>',
    '> <script>q</script>',
    '```\n<script>code</script>\n```',
    '`<script>inline</script>`',
  ])('escapes raw HTML in %j', (md) => {
    const html = renderMarkdown(md);
    expect(html).not.toMatch(/<(script|img|iframe|svg|b)\b/i);
    expect(html).toContain('&lt;');
  });

  it.each([
    '[x](javascript:alert(1))',
    '[x](javascript:alert)',
    '[x](JaVaScRiPt:alert)',
    '[x](java\tscript:alert)',
    '[x](data:text/html;base64,PHNjcmlwdD4=)',
    '[x](vbscript:msgbox)',
    '[x](//evil.example/path)',
  ])('never emits a dangerous href for %j', (md) => {
    const html = renderMarkdown(md);
    expect(html).not.toMatch(/href="\s*(javascript|data|vbscript|\/\/)/i);
    expect(html).not.toContain('<a ');
  });

  it('cannot break out of an href attribute with quotes', () => {
    const html = renderMarkdown('[x](https://a.example/"onmouseover="alert(1))');
    expect(html).not.toMatch(/"\s*onmouseover=/);
  });

  it('property: output never contains a tag other than the ones it generates', () => {
    const allowed = new Set(['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'a', 'ul', 'ol', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'hr', 'blockquote']);
    const alphabet = fc.constantFrom(...'<>"\'&/=|-*_`#[]()\n :ab1'.split(''), '<script>', 'javascript:', '](', '**', '|---|');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }).map((parts) => parts.join('')), (md) => {
        const html = renderMarkdown(md);
        for (const m of html.matchAll(/<\/?([a-zA-Z0-9]+)/g)) expect(allowed.has(m[1]!.toLowerCase())).toBe(true);
        // Every href is safe.
        for (const m of html.matchAll(/href="([^"]*)"/g)) expect(safeUrl(m[1]!.replace(/&amp;/g, '&'))).not.toBeNull();
        expect(html).not.toMatch(/\son\w+=/i);
      }),
      { numRuns: 300 },
    );
  });
});

describe('renderMarkdown: formatting', () => {
  it('renders a GFM table with alignment classes and inline formatting in cells', () => {
    const html = renderMarkdown('| Factor | Contribution |\n|:---|---:|\n| Age 67 | **+0.12** |\n| Chol \\| LDL | -0.03 |');
    expect(html).toBe(
      '<table><thead><tr><th class="align-left">Factor</th><th class="align-right">Contribution</th></tr></thead>' +
        '<tbody><tr><td class="align-left">Age 67</td><td class="align-right"><strong>+0.12</strong></td></tr>' +
        '<tr><td class="align-left">Chol | LDL</td><td class="align-right">-0.03</td></tr></tbody></table>',
    );
  });

  it('does not take a paragraph line followed by a mismatched rule for a table', () => {
    expect(renderMarkdown('a | b\n---')).toBe('<p>a | b</p>\n<hr>');
  });

  it('renders bold, italic, strikethrough, code and links', () => {
    expect(renderMarkdown('**NEWS2 7** is _high_, *act* ~~now~~ `x<1` [guide](https://www.rcplondon.ac.uk/?a=1&b=2)')).toBe(
      '<p><strong>NEWS2 7</strong> is <em>high</em>, <em>act</em> <del>now</del> <code>x&lt;1</code> ' +
        '<a href="https://www.rcplondon.ac.uk/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">guide</a></p>',
    );
  });

  it('keeps relative links in the same tab and leaves snake_case alone', () => {
    expect(renderMarkdown('see [explanation](/explain/abc) for snake_case_name')).toBe(
      '<p>see <a href="/explain/abc">explanation</a> for snake_case_name</p>',
    );
  });

  it('renders bullet and numbered lists, headings, quotes and paragraphs', () => {
    const html = renderMarkdown('## Why\n\n- resp rate 25\n- SpO2 91 %\n  on air\n\n1. first\n2. second\n\n> note\n\nline one\nline two');
    expect(html).toBe(
      [
        '<h2>Why</h2>',
        '<ul><li>resp rate 25</li><li>SpO2 91 % on air</li></ul>',
        '<ol><li>first</li><li>second</li></ol>',
        '<blockquote><p>note</p></blockquote>',
        '<p>line one<br>line two</p>',
      ].join('\n'),
    );
  });

  it('renders CommonMark backslash escapes as the character itself, never as Markdown', () => {
    expect(renderMarkdown('narrowing \\> 50 %; UCI num \\> 0')).toBe('<p>narrowing &gt; 50 %; UCI num &gt; 0</p>');
    expect(renderMarkdown('\\*not italic\\* and \\_not\\_ and \\[no link\\](x)')).toBe('<p>*not italic* and _not_ and [no link](x)</p>');
    expect(renderMarkdown('\\> not a quote')).toBe('<p>&gt; not a quote</p>');
    // Only punctuation is escapable; inside code a backslash is literal.
    expect(renderMarkdown('C:\\temp `a\\*b`')).toBe('<p>C:\\temp <code>a\\*b</code></p>');
  });

  it('handles empty input', () => {
    expect(renderMarkdown('')).toBe('');
    expect(renderMarkdown(undefined)).toBe('');
  });
});

describe('safeUrl and escapeHtml', () => {
  it.each([
    ['https://a.example/x', 'https://a.example/x'],
    ['http://a.example', 'http://a.example'],
    ['mailto:x@y.example', 'mailto:x@y.example'],
    ['/sandbox', '/sandbox'],
    ['#top', '#top'],
    ['page.html?x=1', 'page.html?x=1'],
    ['javascript:alert(1)', null],
    [' javascript:x', null],
    ['data:text/html,x', null],
    ['//evil.example', null],
    ['/\\evil.example', null],
    ['\\\\evil.example', null],
  ])('safeUrl(%j) → %j', (url, expected) => {
    expect(safeUrl(url)).toBe(expected);
  });

  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
