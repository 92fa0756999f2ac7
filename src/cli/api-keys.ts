import type { Command } from 'commander';
import { ApiKeyBody } from '../modules/authz/schemas.js';
import { acceptsInput, type CliContext, printLine } from './io.js';
import { withServices } from './with-services.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `gatehouse api-keys …`: a user's API keys from the command line (the key is printed once). */
export function registerApiKeyCommands(program: Command, context: CliContext): void {
  const keys = program.command('api-keys').description("users' API keys");
  keys
    .command('create')
    .description('make an API key for a user; prints it once')
    .requiredOption('--email <email>', 'the user the key acts as')
    .requiredOption('--name <name>', 'what the key is for')
    .option('--scope <permission>', 'limit the key to this permission (repeatable)', collect)
    .option('--expires-in-days <days>', 'expire the key after this many days')
    .option('--json', 'print JSON')
    .action(
      async (options: {
        email: string;
        name: string;
        scope?: string[];
        expiresInDays?: string;
        json?: boolean;
      }) => {
        const prefix = 'gatehouse api-keys create';
        const input = {
          name: options.name,
          ...(options.scope ? { scopes: options.scope } : {}),
          ...(options.expiresInDays !== undefined ? { expiresInDays: Number(options.expiresInDays) } : {}),
        };
        if (!acceptsInput(context, prefix, ApiKeyBody, input)) return;
        await withServices(context, prefix, async (services) => {
          const userId = await services.accounts.idForEmail(options.email);
          const { key, token } = await services.apiKeys.create({ type: 'user', id: userId }, input, {});
          if (options.json) {
            printLine(context.io, JSON.stringify({ key, token }, null, 2));
            return;
          }
          printLine(context.io, `api key: ${token}   (shown once: store it now)`);
          printLine(context.io, `id:      ${key.id}`);
        });
      },
    );

  keys
    .command('list')
    .description("a user's API keys (never their secrets)")
    .requiredOption('--email <email>', 'whose keys')
    .option('--json', 'print JSON')
    .action(async (options: { email: string; json?: boolean }) => {
      await withServices(context, 'gatehouse api-keys list', async (services) => {
        const userId = await services.accounts.idForEmail(options.email);
        const list = await services.apiKeys.list({ type: 'user', id: userId });
        if (options.json) {
          printLine(context.io, JSON.stringify({ keys: list }, null, 2));
          return;
        }
        for (const key of list) {
          const state = key.revokedAt
            ? 'revoked'
            : key.expiresAt && key.expiresAt < new Date().toISOString()
              ? 'expired'
              : 'active';
          printLine(
            context.io,
            `${key.id}  ${state.padEnd(7)}  ${key.name}  scopes: ${key.scopes.join(' ') || '(all of the user)'}  last used: ${key.lastUsedAt ?? 'never'}`,
          );
        }
      });
    });

  keys
    .command('revoke')
    .description('revoke an API key at once')
    .argument('<keyId>', 'the id (the part after gh_ and before the next _)')
    .action(async (keyId: string) => {
      await withServices(context, 'gatehouse api-keys revoke', async (services) => {
        await services.apiKeys.revoke(keyId, {});
        printLine(context.io, `revoked ${keyId}`);
      });
    });
}
