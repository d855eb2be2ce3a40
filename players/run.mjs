// Plays one page in Debian's headless chromium until its ground truth is done; prints the
// truth as JSON on stdout, with the CMCD reports the player POSTed (`reports`, in the order
// sent) and the answers' statuses (the page's console goes to stderr).
//   node run.mjs <page url> [timeout seconds]
import { chromium } from 'playwright-core';

const [url, timeoutS = '120'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
try {
  const page = await browser.newPage();
  page.on('console', (message) => console.error(`[page] ${message.text()}`));
  page.on('pageerror', (error) => console.error(`[page error] ${error}`));
  const reports = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/v1/cmcd') {
      const sent = { at: Date.now(), body: request.postData() || '', status: null };
      reports.push(sent);
      request.response().then((response) => { sent.status = response && response.status(); },
        () => {});
    }
  });
  await page.goto(url);
  let timedOut = false;
  await page.waitForFunction(() => window.truth && window.truth.done, null, {
    timeout: Number(timeoutS) * 1000,
    polling: 250,
  }).catch(() => { timedOut = true; });
  const truth = await page.evaluate(() => ({
    ...window.truth,
    current_time_ms: Math.round(document.querySelector('video').currentTime * 1000),
  }));
  process.stdout.write(JSON.stringify({ ...truth, reports, timed_out: timedOut }) + '\n');
} finally {
  await browser.close();
}
