import Stations
import DeviceTransports
import SimServe
import Locking
/// The HTTP API's contract (OpenAPI 3.1), served at /api/openapi.json. `APIContractTests` checks the server against
/// it: every route it serves is documented here, and what each answers conforms to the schemas.
package enum OpenAPIDocument {
    package static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "rigd",
    "version": "1",
    "description": "rigd's HTTP API: stations with their live status, the data log (samples, alarms, runs, events), a Server-Sent Events stream of live values, Prometheus metrics, and the operator's writes (settings, runs, alarm acknowledgement). Writes need `Authorization: Bearer TOKEN` (the token file is in rigd's data directory, mode 0600); reads need it too when rigd listens on a non-loopback address. Times are Unix seconds. Errors are JSON objects with `error` (a code) and `reason` (for people)."
  },
  "servers": [{"url": "http://127.0.0.1:8080"}],
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "parameters": {
      "station": {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Station name."},
      "from": {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "Start of the window: Unix seconds, ISO 8601 or relative (-15m, -2h, -7d). Default: the window's span before `to`."},
      "to": {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "End of the window (same forms as `from`). Default: now."},
      "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}, "description": "At most this many rows."},
      "stationFilter": {"name": "station", "in": "query", "schema": {"type": "string"}, "description": "Only this station."}
    },
    "responses": {
      "Unauthorized": {"description": "No valid bearer token.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "UnknownStation": {"description": "No station of that name.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Invalid": {"description": "A value is out of range or not allowed; nothing changed.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "BadRequest": {"description": "The body is not JSON.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotAnswering": {"description": "The station did not take the request in time, or there is no data log.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Accepted": {"description": "The station accepted and applied the request.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}}
    },
    "schemas": {
      "Error": {"type": "object", "required": ["error", "reason"], "properties": {
        "error": {"type": "string", "description": "unauthorized, unknown_station, invalid_value, bad_json, body_too_large, station_not_answering, no_data_log, data_log_error"},
        "reason": {"type": "string"}}},
      "Accepted": {"type": "object", "required": ["station", "accepted"], "properties": {
        "station": {"type": "string"}, "accepted": {"type": "string"}}},
      "Channel": {"type": "object", "required": ["name", "unit", "quality"], "properties": {
        "name": {"type": "string"}, "unit": {"type": "string"},
        "value": {"type": ["number", "null"], "description": "Absent or null when the reading is a fault or nothing was read yet."},
        "quality": {"type": "integer", "description": "The channel block's quality word; 0 = good."}}},
      "Link": {"type": "object", "required": ["up", "transactions", "link_errors", "transaction_errors", "errors_by_kind", "reconnects"], "properties": {
        "up": {"type": "boolean"}, "transactions": {"type": "integer"}, "link_errors": {"type": "integer"},
        "transaction_errors": {"type": "integer"},
        "errors_by_kind": {"type": "object", "additionalProperties": {"type": "integer"}},
        "reconnects": {"type": "integer"}, "last_error": {"type": ["string", "null"]}}},
      "Loop": {"type": "object", "required": ["name", "period_s", "ticks", "overruns", "missed_deadlines", "lateness_p50_s", "lateness_p99_s", "lateness_max_s"], "properties": {
        "name": {"type": "string"}, "period_s": {"type": "number"}, "ticks": {"type": "integer"},
        "overruns": {"type": "integer"}, "missed_deadlines": {"type": "integer"},
        "lateness_p50_s": {"type": "number"}, "lateness_p99_s": {"type": "number"}, "lateness_max_s": {"type": "number"}}},
      "ActiveAlarm": {"type": "object", "required": ["code", "severity", "message", "raised_at"], "properties": {
        "code": {"type": "string"}, "severity": {"type": "string", "enum": ["warning", "alarm", "trip"]},
        "message": {"type": "string"}, "raised_at": {"type": "number"},
        "acknowledged_at": {"type": ["number", "null"]}, "acknowledged_by": {"type": ["string", "null"]}}},
      "Run": {"type": "object", "required": ["number", "recipe", "outcome", "started_at", "results"], "properties": {
        "number": {"type": "integer"}, "recipe": {"type": "string"},
        "outcome": {"type": "string", "enum": ["running", "completed", "aborted"]},
        "reason": {"type": ["string", "null"]}, "started_at": {"type": "number"}, "ended_at": {"type": ["number", "null"]},
        "results": {"type": "object"}}},
      "Setting": {"type": "object", "required": ["name", "unit", "min", "max"], "properties": {
        "name": {"type": "string"}, "unit": {"type": "string"}, "min": {"type": "number"}, "max": {"type": "number"}}},
      "Station": {"type": "object", "required": ["name", "kind", "mode", "address", "link", "loops", "channels", "device_status", "alarms", "relays", "settings", "results"], "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["heat-rig", "extraction", "aqua-sonde", "cnc-mill", "msd-rig", "stream-station"]},
        "mode": {"type": "string", "enum": ["real", "simulated"]},
        "address": {"type": "string"},
        "updated_at": {"type": ["number", "null"]},
        "link": {"$ref": "#/components/schemas/Link"},
        "loops": {"type": "array", "items": {"$ref": "#/components/schemas/Loop"}},
        "channels": {"type": "array", "items": {"$ref": "#/components/schemas/Channel"}},
        "device_status": {"type": "array", "items": {"type": "string"}, "description": "The device's own status bits as last read: high_alarm, high_warning, low_warning, low_alarm, sensor_malfunction, interlock, estop, watchdog_tripped, safe_state."},
        "alarms": {"type": "array", "items": {"$ref": "#/components/schemas/ActiveAlarm"}},
        "run": {"oneOf": [{"$ref": "#/components/schemas/Run"}, {"type": "null"}]},
        "phase": {"type": ["string", "null"]},
        "relays": {"type": "object", "additionalProperties": {"type": ["boolean", "null"]}},
        "settings": {"type": "array", "items": {"$ref": "#/components/schemas/Setting"}},
        "results": {"type": "object", "description": "What the controller computes: current setpoints and figures, as in the run report."}}},
      "StationList": {"type": "object", "required": ["stations"], "properties": {
        "stations": {"type": "array", "items": {"$ref": "#/components/schemas/Station"}}}},
      "Sample": {"type": "object", "required": ["t", "channel", "unit", "quality"], "properties": {
        "t": {"type": "number"}, "channel": {"type": "string"}, "unit": {"type": "string"},
        "value": {"type": ["number", "null"]}, "quality": {"type": "integer"}}},
      "SampleList": {"type": "object", "required": ["station", "from", "to", "samples"], "properties": {
        "station": {"type": "string"}, "from": {"type": "number"}, "to": {"type": "number"},
        "samples": {"type": "array", "items": {"$ref": "#/components/schemas/Sample"}}}},
      "Alarm": {"type": "object", "required": ["station", "code", "severity", "message", "raised_at"], "properties": {
        "station": {"type": "string"}, "code": {"type": "string"},
        "severity": {"type": "string", "enum": ["warning", "alarm", "trip"]}, "message": {"type": "string"},
        "raised_at": {"type": "number"}, "acknowledged_at": {"type": ["number", "null"]},
        "acknowledged_by": {"type": ["string", "null"]}, "cleared_at": {"type": ["number", "null"]},
        "cleared_by": {"type": ["string", "null"], "description": "condition, rigd stopped, or unclean stop"}}},
      "AlarmList": {"type": "object", "required": ["alarms"], "properties": {
        "alarms": {"type": "array", "items": {"$ref": "#/components/schemas/Alarm"}}}},
      "RunEntry": {"type": "object", "required": ["station", "number", "recipe", "outcome", "started_at", "results"], "properties": {
        "station": {"type": "string"}, "number": {"type": "integer"}, "recipe": {"type": "string"},
        "outcome": {"type": "string", "enum": ["running", "completed", "aborted"]}, "reason": {"type": ["string", "null"]},
        "started_at": {"type": "number"}, "ended_at": {"type": ["number", "null"]}, "results": {"type": "object"}}},
      "RunList": {"type": "object", "required": ["runs"], "properties": {
        "runs": {"type": "array", "items": {"$ref": "#/components/schemas/RunEntry"}}}},
      "Event": {"type": "object", "required": ["t", "kind", "message"], "properties": {
        "t": {"type": "number"}, "station": {"type": ["string", "null"]}, "kind": {"type": "string"}, "message": {"type": "string"}}},
      "EventList": {"type": "object", "required": ["events"], "properties": {
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
      "Health": {"type": "object", "required": ["stations", "simulated", "links_down", "active_alarms", "dropped_records"], "properties": {
        "stations": {"type": "integer"}, "simulated": {"type": "integer"}, "links_down": {"type": "integer"},
        "active_alarms": {"type": "integer"}, "dropped_records": {"type": "integer"}}},
      "SettingRequest": {"type": "object", "required": ["name", "value"], "properties": {
        "name": {"type": "string", "description": "A setting of the station (see its `settings`)."}, "value": {"type": "number"}}},
      "RunRequest": {"type": "object", "properties": {
        "recipe": {"type": "object", "properties": {"name": {"type": "string"},
          "parameters": {"type": "object", "additionalProperties": {"type": ["number", "boolean"]}}}}}},
      "AcknowledgeRequest": {"type": "object", "required": ["by"], "properties": {
        "by": {"type": "string", "minLength": 1, "maxLength": 64, "description": "Who acknowledges."}}}
    }
  },
  "paths": {
    "/api/openapi.json": {"get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics (text exposition format 0.0.4).", "responses": {
      "200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/api/health": {"get": {"summary": "Counts at a glance.", "responses": {
      "200": {"description": "Health.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/api/stations": {"get": {"summary": "Every station with its live status.", "responses": {
      "200": {"description": "Stations.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StationList"}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/api/stations/{name}": {"get": {"summary": "One station's live status.", "parameters": [{"$ref": "#/components/parameters/station"}], "responses": {
      "200": {"description": "Station.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Station"}}}},
      "401": {"$ref": "#/components/responses/Unauthorized"},
      "404": {"$ref": "#/components/responses/UnknownStation"}}}},
    "/api/stations/{name}/samples": {"get": {"summary": "Recorded samples of a station in a time window (default: the last hour), oldest first.",
      "parameters": [{"$ref": "#/components/parameters/station"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/limit"},
        {"name": "channel", "in": "query", "schema": {"type": "string"}, "description": "Only this channel."}],
      "responses": {
        "200": {"description": "Samples.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SampleList"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"},
        "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/stations/{name}/export.csv": {"get": {"summary": "The data log of a station as CSV (RFC 4180, CRLF, a header row; the same columns as `rigd export`), as a download. Default window: the last hour.",
      "parameters": [{"$ref": "#/components/parameters/station"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"name": "what", "in": "query", "schema": {"type": "string", "enum": ["samples", "alarms", "runs", "events"]}, "description": "What to export (default samples)."},
        {"name": "layout", "in": "query", "schema": {"type": "string", "enum": ["wide", "long"]}, "description": "Samples: a column per channel (wide, default) or a row per reading (long)."}],
      "responses": {
        "200": {"description": "CSV.", "content": {"text/csv": {"schema": {"type": "string"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"},
        "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/alarms": {"get": {"summary": "Alarm history from the data log, newest first (default window: 30 days).",
      "parameters": [{"$ref": "#/components/parameters/stationFilter"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/limit"},
        {"name": "active", "in": "query", "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}, "description": "Only alarms not cleared."}],
      "responses": {
        "200": {"description": "Alarms.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AlarmList"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"},
        "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/runs": {"get": {"summary": "Runs from the data log, newest first (default window: 365 days).",
      "parameters": [{"$ref": "#/components/parameters/stationFilter"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/limit"}],
      "responses": {
        "200": {"description": "Runs.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunList"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"},
        "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/events": {"get": {"summary": "Events from the data log (operator requests, link changes, daemon start/stop), oldest first (default window: the last hour).",
      "parameters": [{"$ref": "#/components/parameters/stationFilter"}, {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"}, {"$ref": "#/components/parameters/limit"}],
      "responses": {
        "200": {"description": "Events.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventList"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"},
        "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/stream": {"get": {"summary": "Server-Sent Events: an `event: values` frame with every station's values every `interval` seconds; data is JSON {stations: [{name, mode, link_up, updated_at, values, alarms, phase, run}]}.",
      "parameters": [{"name": "interval", "in": "query", "schema": {"type": "number", "minimum": 0.1, "maximum": 60}, "description": "Seconds between frames (default 1)."}],
      "responses": {
        "200": {"description": "Event stream.", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "422": {"$ref": "#/components/responses/Invalid"}}}},
    "/api/stations/{name}/setpoints": {"post": {"summary": "Change a setting; validated by the station against its limits at its next tick.", "security": [{"bearer": []}],
      "parameters": [{"$ref": "#/components/parameters/station"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettingRequest"}}}},
      "responses": {"200": {"$ref": "#/components/responses/Accepted"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"}, "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/stations/{name}/run/start": {"post": {"summary": "Start a run; without a body or recipe, the station's default recipe.", "security": [{"bearer": []}],
      "parameters": [{"$ref": "#/components/parameters/station"}],
      "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}}},
      "responses": {"200": {"$ref": "#/components/responses/Accepted"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"}, "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/stations/{name}/run/stop": {"post": {"summary": "Stop the running run (it is recorded as aborted, with the operator's stop as the reason).", "security": [{"bearer": []}],
      "parameters": [{"$ref": "#/components/parameters/station"}],
      "responses": {"200": {"$ref": "#/components/responses/Accepted"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"}, "503": {"$ref": "#/components/responses/NotAnswering"}}}},
    "/api/stations/{name}/alarms/{code}/acknowledge": {"post": {"summary": "Acknowledge an active alarm, naming who does.", "security": [{"bearer": []}],
      "parameters": [{"$ref": "#/components/parameters/station"}, {"name": "code", "in": "path", "required": true, "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AcknowledgeRequest"}}}},
      "responses": {"200": {"$ref": "#/components/responses/Accepted"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/UnknownStation"},
        "422": {"$ref": "#/components/responses/Invalid"}, "503": {"$ref": "#/components/responses/NotAnswering"}}}}
  }
}
"""#
}
