/**
 * Sealing of explanation-view sessions for a shared store. A session holds SMART access and refresh tokens
 * (SMART App Launch v2.2 §App Protection: the server keeps them), so in a database other people can read —
 * backups, replicas, an operator's psql — it is stored only as AES-256-GCM ciphertext (NIST SP 800-38D):
 *
 *   v1.<key id>.<IV, 12 random bytes>.<ciphertext + 16-byte tag>      (base64url parts)
 *
 * - a fresh random 96-bit IV per write (SP 800-38D §8.2.2), so one key may seal many writes safely;
 * - the session id is the additional authenticated data: a sealed value copied to another id's row fails to
 *   open, so a row cannot be moved to another browser's cookie;
 * - the key id (8 base64url characters of a SHA-256 of the key; not secret, reveals nothing useful) tells
 *   which configured key to try. The first key seals; every key opens, so keys rotate without logging
 *   anyone out (add the new key last everywhere, then move it first, then drop the old one once
 *   APP_SESSION_TTL_S has passed: docs/deploy.md).
 *
 * Opening never throws: a value that is malformed, sealed with a key no longer configured or altered in any
 * bit yields a reason instead of a session (the caller treats it as "no session": the user re-launches).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** Domain separation: these keys seal app sessions and nothing else. */
const AAD_PREFIX = 'vigil-app-session\u0000';

export type UnsealFailure = 'malformed' | 'unknown-key' | 'not-authentic';

export type UnsealResult = { ok: true; plaintext: string } | { ok: false; reason: UnsealFailure };

/** The public id of a 32-byte key, as written in front of what it sealed. */
export function sessionKeyId(key: Buffer): string {
  return createHash('sha256').update('vigil-session-key-id\u0000').update(key).digest('base64url').slice(0, 8);
}

export class SessionSealer {
  readonly #keys: Map<string, Buffer>;
  readonly #sealId: string;
  readonly #sealKey: Buffer;

  /** `keys`: 32-byte AES keys, the first seals, all open. */
  constructor(keys: readonly Buffer[]) {
    if (!keys.length) throw new Error('SessionSealer needs at least one key');
    this.#keys = new Map();
    for (const key of keys) {
      if (key.length !== KEY_BYTES) throw new Error(`session keys must be ${KEY_BYTES} bytes`);
      const id = sessionKeyId(key);
      if (!this.#keys.has(id)) this.#keys.set(id, Buffer.from(key));
    }
    this.#sealId = sessionKeyId(keys[0]!);
    this.#sealKey = this.#keys.get(this.#sealId)!;
  }

  /** Key id of the sealing key (the first configured). */
  get keyId(): string {
    return this.#sealId;
  }

  /** Seals `plaintext` for the session `sessionId` with the first key. */
  seal(sessionId: string, plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#sealKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(sessionId));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, this.#sealId, iv.toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Opens what seal() wrote for `sessionId`; any other id, key or altered byte fails. */
  open(sessionId: string, sealed: string): UnsealResult {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
    const key = this.#keys.get(parts[1]!);
    if (!key) return { ok: false, reason: 'unknown-key' };
    const iv = Buffer.from(parts[2]!, 'base64url');
    const body = Buffer.from(parts[3]!, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) return { ok: false, reason: 'malformed' };
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(sessionId));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
      return { ok: true, plaintext: plaintext.toString('utf8') };
    } catch {
      return { ok: false, reason: 'not-authentic' };
    }
  }
}

function aad(sessionId: string): Buffer {
  return Buffer.from(AAD_PREFIX + sessionId, 'utf8');
}
