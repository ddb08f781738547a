import * as fs from 'fs';
import * as path from 'path';

/** The forms a secret could be written in: as is, URL-encoded, base64, hex. */
export function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [
    secret,
    encodeURIComponent(secret),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('hex'),
  ];
}

/** A finder of the named secrets, in any of their forms, in a text or bytes: "name (form)" per find. */
export function leakFinder(secrets: Record<string, string>): (content: string | Buffer) => string[] {
  return (content) => {
    const text = Buffer.isBuffer(content) ? content.toString('latin1') : content;
    const found: string[] = [];
    for (const [name, secret] of Object.entries(secrets)) {
      for (const form of forms(secret)) if (text.includes(form)) found.push(`${name} (${form})`);
    }
    return found;
  };
}

/** Every file below `dir`, node_modules left out. */
export function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}
