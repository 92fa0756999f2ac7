import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, type Registry } from 'prom-client';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../logger.js';
import { SmsErrors } from './errors.js';
import type { SmsSettings } from './settings.js';

export interface SmsMessage {
  /** E.164, e.g. +15550001234. */
  readonly to: string;
  readonly body: string;
  /** What kind of message this is (`mfa-code`…), for logs and metrics. */
  readonly tag: string;
}

/** One way to deliver a text message. Providers throw on failure; callers decide whether to retry. */
export interface SmsProvider {
  readonly name: string;
  send(message: SmsMessage): Promise<{ id: string }>;
}

export interface SmsSender {
  readonly enabled: boolean;
  readonly provider: string;
  send(message: SmsMessage): Promise<{ id: string }>;
}

export interface SmsOptions {
  readonly logger: Logger;
  readonly outboxDir: string;
  readonly registry?: Registry;
  /** Injected in tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
}

/** Shows the country code and the last two digits only: enough to tell numbers apart in logs. */
export function maskPhone(phone: string): string {
  return phone.length <= 5 ? '***' : `${phone.slice(0, 3)}${'*'.repeat(phone.length - 5)}${phone.slice(-2)}`;
}

/** A development provider: each message becomes a JSON file and a log line, so codes can be read locally. */
export function outboxProvider(directory: string, logger: Logger): SmsProvider {
  return {
    name: 'outbox',
    async send(message) {
      mkdirSync(directory, { recursive: true, mode: 0o700 });
      const id = `sms-${Date.now()}-${randomBytes(4).toString('hex')}`;
      const file = join(directory, `${id}.json`);
      writeFileSync(
        file,
        `${JSON.stringify({ to: message.to, body: message.body, tag: message.tag }, null, 2)}\n`,
        {
          mode: 0o600,
        },
      );
      chmodSync(file, 0o600);
      logger.info({ file, tag: message.tag }, 'SMS written to the development outbox');
      return { id };
    },
  };
}

/**
 * The Twilio Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`, form-encoded, HTTP Basic with
 * the account SID and auth token). Other providers that offer a Twilio-compatible endpoint work through
 * `baseUrl`.
 */
export function twilioProvider(
  settings: SmsSettings['twilio'],
  fetchImpl: typeof fetch = fetch,
): SmsProvider {
  const { accountSid, authToken } = settings;
  if (!accountSid || !authToken)
    throw new GatehouseError('config_invalid', 'sms.twilio needs accountSid and authToken');
  const url = `${settings.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  return {
    name: 'twilio',
    async send(message) {
      const form = new URLSearchParams({ To: message.to, Body: message.body });
      if (settings.messagingServiceSid) form.set('MessagingServiceSid', settings.messagingServiceSid);
      else if (settings.from) form.set('From', settings.from);
      let response: Response;
      try {
        response = await fetchImpl(url, {
          method: 'POST',
          headers: {
            authorization,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: form,
          signal: AbortSignal.timeout(settings.timeoutMs),
        });
      } catch (error) {
        throw new GatehouseError(SmsErrors.sms_delivery_failed, 'the SMS provider could not be reached', {
          cause: error,
        });
      }
      const text = await response.text();
      let payload: { sid?: string; code?: number; message?: string } = {};
      try {
        payload = JSON.parse(text) as typeof payload;
      } catch {
        // A proxy error page, say; the status tells what matters.
      }
      if (!response.ok || !payload.sid) {
        throw new GatehouseError(
          SmsErrors.sms_delivery_failed,
          `the SMS provider answered ${response.status}${payload.code ? ` (error ${payload.code})` : ''}`,
        );
      }
      return { id: payload.sid };
    },
  };
}

export function createSmsSender(settings: SmsSettings, options: SmsOptions): SmsSender {
  const registers = options.registry ? [options.registry] : [];
  const sent = new Counter({
    name: 'gatehouse_sms_sent_total',
    help: 'Text messages accepted by the SMS provider.',
    labelNames: ['tag'],
    registers,
  });
  const failed = new Counter({
    name: 'gatehouse_sms_failed_total',
    help: 'Text messages the SMS provider did not accept.',
    labelNames: ['tag'],
    registers,
  });
  const provider: SmsProvider | undefined =
    settings.provider === 'twilio'
      ? twilioProvider(settings.twilio, options.fetch)
      : settings.provider === 'outbox'
        ? outboxProvider(options.outboxDir, options.logger)
        : undefined;
  return {
    enabled: provider !== undefined,
    provider: settings.provider,
    async send(message) {
      if (!provider) throw new GatehouseError(SmsErrors.sms_unavailable, 'SMS is not configured');
      try {
        const result = await provider.send(message);
        sent.inc({ tag: message.tag });
        options.logger.info({ to: maskPhone(message.to), tag: message.tag, id: result.id }, 'SMS sent');
        return result;
      } catch (error) {
        failed.inc({ tag: message.tag });
        throw error;
      }
    },
  };
}
