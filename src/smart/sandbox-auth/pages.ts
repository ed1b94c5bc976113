/**
 * The two HTML pages of the sandbox authorization server: practitioner sign-in and patient picker.
 * Every interpolated value is escaped; pages carry no script, so the CSP can forbid all of it.
 */

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title></head>
<body>
<p><strong>Sandbox EHR — synthetic/de-identified demo data, not for clinical use</strong></p>
${body}
</body></html>`;
}

export interface LoginPageInput {
  tx: string;
  clientId: string;
  scopes: string[];
  users: Array<{ reference: string; name: string }>;
  action: string;
}

export function loginPage(input: LoginPageInput): string {
  const options = input.users
    .map((u) => `<option value="${escapeHtml(u.reference)}">${escapeHtml(u.name)}</option>`)
    .join('');
  const scopes = input.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('');
  return page(
    'Sign in — Sandbox EHR',
    `<h1>Sign in</h1>
<p>The application <code>${escapeHtml(input.clientId)}</code> asks for:</p><ul>${scopes}</ul>
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="tx" value="${escapeHtml(input.tx)}">
<label>Practitioner <select name="user">${options}</select></label>
<button type="submit" name="decision" value="allow">Sign in and allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

export interface PickerPageInput {
  tx: string;
  patients: Array<{ id: string; name: string; birthDate?: string }>;
  action: string;
}

export function patientPickerPage(input: PickerPageInput): string {
  const rows = input.patients
    .map(
      (p) =>
        `<li><label><input type="radio" name="patient" value="${escapeHtml(p.id)}" required> ${escapeHtml(p.name)}${
          p.birthDate ? ` (${escapeHtml(p.birthDate)})` : ''
        }</label></li>`,
    )
    .join('');
  return page(
    'Choose a patient — Sandbox EHR',
    `<h1>Choose a patient</h1>
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="tx" value="${escapeHtml(input.tx)}">
<ul>${rows}</ul>
<button type="submit">Continue</button>
</form>`,
  );
}

export function errorPage(message: string): string {
  return page('Authorization error — Sandbox EHR', `<h1>Authorization error</h1><p>${escapeHtml(message)}</p>`);
}
