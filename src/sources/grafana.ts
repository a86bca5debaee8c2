/**
 * The Grafana alerting source (`type: grafana`): receives the webhook contact point of Grafana's
 * unified alerting (payload version "1"), whose body is an Alertmanager-style alert group, and
 * maps every alert to one `alert.firing` or `alert.resolved` CloudEvent.
 *
 * What callers may assume: everything `alertmanager.ts` promises (authentication, one event per
 * alert, ids, dedupe keys, times, errors, limits), with `source` `grafana/<source name>` and dedupe
 * keys `grafana:<source name>:<id>`. `data` also carries Grafana's `values` (the rule's query
 * results, or null), `dashboardURL`, `panelURL`, `silenceURL` and `imageURL` (null when Grafana
 * sends none or an empty string). Payloads of Grafana's legacy alerting (no `version`) are refused.
 */
import { createAlertSource, isObject } from './alertmanager.ts';
import type { AlertProvider, JsonObject } from './alertmanager.ts';
import type { SourceFactory } from './source.ts';

export const GRAFANA: AlertProvider = {
  type: 'grafana',
  label: 'grafana',
  versions: ['1'],
  extraData: grafanaData,
};

export const grafanaSource: SourceFactory = (settings) => createAlertSource(settings, GRAFANA);

function grafanaData(alert: JsonObject): Record<string, unknown> {
  return {
    values: isObject(alert.values) ? alert.values : null,
    dashboardURL: url(alert.dashboardURL),
    panelURL: url(alert.panelURL),
    silenceURL: url(alert.silenceURL),
    imageURL: url(alert.imageURL),
  };
}

function url(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
