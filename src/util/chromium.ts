// Headless Debian Chromium through playwright-core, with WebGPU enabled (SwiftShader on machines without a GPU).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const userDataDir = mkdtempSync(join(tmpdir(), 'glocal-chromium-'));
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--enable-unsafe-webgpu', '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', `--user-data-dir=${userDataDir}`,
    ],
  });
}
