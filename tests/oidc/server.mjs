// An OpenID Connect provider on loopback for the login tests: oauth2-mock-server, whose
// authorize endpoint logs in at once as the identity in the JSON file named by OIDC_IDENTITY
// (re-read at every token, so a test switches users by rewriting it). Prints its issuer URL.
import { readFileSync } from 'node:fs';
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(0, '127.0.0.1');
server.issuer.url = `http://127.0.0.1:${server.address().port}`;
server.service.on('beforeTokenSigning', (token) => {
  const identity = JSON.parse(readFileSync(process.env.OIDC_IDENTITY, 'utf8'));
  Object.assign(token.payload, identity);
});
console.log(JSON.stringify({ issuer: server.issuer.url }));
const stop = async () => { await server.stop(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
