import { FormatRegistry } from '@sinclair/typebox';
import type { Command } from 'commander';
import type { ClientInput } from '../modules/oidc/clients.js';
import { ClientBody } from '../modules/oidc/schemas.js';
import { rotateSealedData } from '../modules/security/keyring.js';
import { acceptsInput, type CliContext, EXIT_FAILURE, parsePositiveInteger, printLine } from './io.js';
import { withServices } from './with-services.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

// The HTTP API validates formats with ajv; TypeBox's checker needs to be told what a URI is.
if (!FormatRegistry.Has('uri'))
  FormatRegistry.Set('uri', (value) => URL.canParse(value) && /^[a-z][a-z0-9+.-]*:/i.test(value));

/** `gatehouse clients …` and `gatehouse keys …`: OAuth clients and signing keys from the command line. */
export function registerOauthCommands(program: Command, context: CliContext): void {
  const clients = program.command('clients').description('OAuth clients');
  clients
    .command('create')
    .description('register an OAuth client; prints its id and (once) its secret')
    .requiredOption('--name <name>', 'shown on the consent page')
    .option('--redirect-uri <uri>', 'an exact redirect URI (repeat for several)', collect)
    .option('--post-logout-redirect-uri <uri>', 'where RP-initiated logout may return (repeatable)', collect)
    .option(
      '--grant <grant>',
      'authorization_code, refresh_token, client_credentials, … (repeatable)',
      collect,
    )
    .option('--scope <scope>', 'a scope the client may request (repeatable)', collect)
    .option('--public', 'a browser or native app without a secret (PKCE only)')
    .option('--first-party', 'trusted: users are not asked for consent')
    .option('--json', 'print JSON')
    .action(
      async (options: {
        name: string;
        redirectUri?: string[];
        postLogoutRedirectUri?: string[];
        grant?: string[];
        scope?: string[];
        public?: boolean;
        firstParty?: boolean;
        json?: boolean;
      }) => {
        const prefix = 'gatehouse clients create';
        const input = {
          name: options.name,
          grants: options.grant ?? ['authorization_code', 'refresh_token'],
          ...(options.redirectUri ? { redirectUris: options.redirectUri } : {}),
          ...(options.postLogoutRedirectUri ? { postLogoutRedirectUris: options.postLogoutRedirectUri } : {}),
          ...(options.scope ? { scopes: options.scope } : {}),
          ...(options.public ? { public: true } : {}),
          ...(options.firstParty ? { firstParty: true } : {}),
        };
        if (!acceptsInput(context, prefix, ClientBody, input)) return;
        await withServices(context, prefix, async (services) => {
          const { client, secret } = await services.clients.create(input as ClientInput, {});
          if (options.json) {
            printLine(context.io, JSON.stringify({ client, ...(secret ? { secret } : {}) }, null, 2));
            return;
          }
          printLine(context.io, `client_id:     ${client.id}`);
          if (secret) printLine(context.io, `client_secret: ${secret}   (shown once: store it now)`);
        });
      },
    );

  const keys = program.command('keys').description('token signing keys');
  keys
    .command('list')
    .description('signing keys: active ones sign, retiring ones still verify')
    .action(async () => {
      await withServices(context, 'gatehouse keys list', async (services) => {
        for (const key of await services.signingKeys.list()) {
          printLine(
            context.io,
            `${key.kid}  ${key.alg}  ${key.status}${key.retireAfter ? `  until ${key.retireAfter}` : ''}`,
          );
        }
      });
    });
  keys
    .command('rotate')
    .description('make new active keys; the old ones stay published until the tokens they signed expire')
    .action(async () => {
      await withServices(context, 'gatehouse keys rotate', async (services, config) => {
        // Old keys verify for as long as anything they signed can still be presented.
        const keep = Math.max(config.oidc.accessTokenTtlSeconds, config.oidc.idTokenTtlSeconds);
        const kids = await services.signingKeys.rotate(keep);
        await services.pubsub.publish('oidc.keys.changed', JSON.stringify({ kids }));
        printLine(context.io, `new signing keys: ${kids.join(', ')}; previous keys retire in ${keep} s`);
      });
    });
  keys
    .command('rotate-data')
    .description(
      're-encrypt every stored secret (TOTP seeds, signing keys) with the first of secrets.encryptionKeys; safe to run while serving, and to run again',
    )
    .option('--batch-size <n>', 'rows per batch', parsePositiveInteger, 200)
    .action(async (options: { batchSize: number }) => {
      await withServices(context, 'gatehouse keys rotate-data', async (services) => {
        const reports = await rotateSealedData({
          database: services.database,
          sealedBox: services.sealedBox,
          events: services.events,
          batchSize: options.batchSize,
        });
        for (const report of reports) {
          printLine(
            context.io,
            `${report.column}: ${report.rewritten} re-encrypted with ${services.sealedBox.activeKeyId}, ${report.skipped} changed meanwhile, ${report.failed.length} could not be opened${report.failed.length > 0 ? ` (${report.failed.join(', ')})` : ''}`,
          );
        }
        if (reports.some((report) => report.failed.length > 0)) context.setExitCode(EXIT_FAILURE);
      });
    });
}
