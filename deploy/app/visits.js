// A key-value counter that shows replicas sharing state: POST /visits adds one to "visits" in the `default`
// key-value store, GET /visits reads it (an increment by 0). With the store on Redis (deploy/kubernetes), every
// replica counts the same visits. `?delay=MS` (at most 10000) answers that much later: a request in flight to show
// that SIGTERM drains it (deploy/check-container.sh does).
import { open } from 'wasi:keyvalue/store@0.2.0-draft2';
import { increment } from 'wasi:keyvalue/atomics@0.2.0-draft2';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

addEventListener('fetch', (event) => event.respondWith((async () => {
  const req = event.request;
  if (req.method !== 'GET' && req.method !== 'POST') return new Response('GET or POST\n', { status: 405 });
  const delay = Math.min(Number(new URL(req.url).searchParams.get('delay')) || 0, 10000);
  if (delay > 0) await sleep(delay);
  let count;
  try {
    count = increment(open('default'), 'visits', req.method === 'POST' ? 1n : 0n);
  } catch (e) {
    const p = e && e.payload !== undefined ? e.payload : e;
    return new Response(`key-value error: ${p?.tag ?? e}${p?.val ? ': ' + p.val : ''}\n`, { status: 500 });
  }
  return new Response(`visits: ${count}\n`, { headers: { 'content-type': 'text/plain' } });
})()));
