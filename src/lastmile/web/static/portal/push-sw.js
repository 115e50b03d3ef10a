// The tracking page's service worker (served at /t/push-sw.js, scope /t/): shows the
// web push messages lastmile sends about the customer's order and opens the link on tap.
self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (_) { data = { body: event.data && event.data.text() }; }
  const title = data.title || "lastmile";
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || "", data: { url: data.url || null }, tag: data.tag || "lastmile-order",
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data && event.notification.data.url;
  if (url) event.waitUntil(self.clients.openWindow(url));
});
