/**
 * The few server-rendered pages of the explanation view's launch: errors, in words a clinician can act on.
 * Every interpolated value is escaped; the pages carry no script.
 */

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface LaunchProblem {
  title: string;
  message: string;
  /** What to do next. */
  action: string;
}

export function launchErrorPage(problem: LaunchProblem): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(problem.title)} — Vigil</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.4rem}.box{border-left:4px solid #b35900;padding:.5rem 1rem;background:#fff7ee}</style></head>
<body><main><h1>${escapeHtml(problem.title)}</h1>
<div class="box" role="alert"><p>${escapeHtml(problem.message)}</p><p><strong>${escapeHtml(problem.action)}</strong></p></div>
</main></body></html>`;
}

export const RELAUNCH_ACTION = "Close this window and open Vigil again from the patient's chart in the EHR.";
