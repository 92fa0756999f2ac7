import type { Command } from 'commander';
import { type CliContext, EXIT_FAILURE, printErrorLine, printLine } from './io.js';
import { withServices } from './with-services.js';

const PREFIX = 'gatehouse admin create';

/** `gatehouse admin create`: the first administrator, before anyone can sign in to make one. */
export function registerAdminCommands(program: Command, context: CliContext): void {
  const admin = program.command('admin').description('administer accounts from the command line');
  admin
    .command('create')
    .description('create an administrator (the password must pass the password policy)')
    .requiredOption('--email <email>', 'e-mail address of the new administrator')
    .option(
      '--password <password>',
      'the password (visible in process lists and shell history: prefer --password-stdin)',
    )
    .option('--password-stdin', 'read the password from standard input')
    .option('--name <name>', 'display name')
    .option('--role <role>', 'the role to give: owner (everything) or admin', 'owner')
    .action(
      async (options: {
        email: string;
        password?: string;
        passwordStdin?: boolean;
        name?: string;
        role: string;
      }) => {
        const { io } = context;
        if (options.role !== 'owner' && options.role !== 'admin') {
          printErrorLine(io, `${PREFIX}: --role must be owner or admin`);
          context.setExitCode(EXIT_FAILURE);
          return;
        }
        if (Boolean(options.password) === Boolean(options.passwordStdin)) {
          printErrorLine(io, `${PREFIX}: give exactly one of --password and --password-stdin`);
          context.setExitCode(EXIT_FAILURE);
          return;
        }
        let password = options.password ?? '';
        if (options.passwordStdin) {
          if (!io.readStdin) throw new Error('standard input is not available');
          // One trailing newline is what `echo` and most secret stores add; it is not part of the password.
          password = (await io.readStdin()).replace(/\r?\n$/, '');
        }
        await withServices(context, PREFIX, async (services) => {
          const user = await services.accounts.adminCreate(
            {
              email: options.email,
              password,
              ...(options.name ? { name: options.name } : {}),
              isAdmin: true,
              verified: true,
            },
            {},
          );
          await services.authz.assign({ type: 'user', id: user.id }, options.role, {});
          printLine(io, `created administrator ${user.email} (${user.id}) with role ${options.role}`);
        });
      },
    );
}
