// A JavaScript HTTP component: answers with the request's method, path and the route Spin matched.
addEventListener('fetch', (event) => {
  const req = event.request;
  const route = req.headers.get('spin-matched-route');
  const text = `Hello from JavaScript!\n${req.method} ${new URL(req.url).pathname} matched ${route}\n`;
  event.respondWith(new Response(text, { headers: { 'content-type': 'text/plain' } }));
});
