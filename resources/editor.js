/*
 * Editor code shared by the ThingPark nodes: validators that explain themselves in the user's language,
 * the document-type checklist of the flow nodes and the "Test connection" button of the connection
 * nodes. Node-RED serves it at resources/@thingpark-edge/node-red-connectors/editor.js; each node's
 * editor HTML loads it with a <script src> before registering its type. Loaded once per node set, so it
 * defines itself only once.
 */
(function () {
  'use strict';
  // editor-forms.js may have been loaded first (Node-RED loads a node set's scripts in parallel).
  if (window.ThingParkEditor && window.ThingParkEditor.validators) return;

  var ENV = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;
  var HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$/;
  var ID = /^[A-Za-z0-9_-]+$/;

  function text(value) {
    return value === undefined || value === null ? '' : String(value).trim();
  }

  /** A message of the node's catalog (every node catalog holds the thingpark-common texts). */
  function t(node, key, vars) {
    return node && typeof node._ === 'function' ? node._(key, vars) : key;
  }

  /** Problem finders: undefined when the value is fine, else [key, vars]. */
  function portProblem(port) {
    var n = Number(port);
    return /^\d{1,5}$/.test(port) && n >= 1 && n <= 65535 ? undefined : ['thingpark-common.validation.port'];
  }

  function hostPortProblem(value) {
    var m = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(value);
    if (!m || !HOST.test(m[1])) return ['thingpark-common.validation.host'];
    return m[2] === undefined ? undefined : portProblem(m[2]);
  }

  /**
   * Makes a Node-RED validator (3.1+ form: a message when given `opt`, false for older editors).
   * `check(value, node)` returns a problem or nothing. Empty values pass unless `required`; values
   * taking something from the environment (`${NAME}`) pass, as they are known only at run time.
   */
  function validator(check, required) {
    return function (v, opt) {
      var value = text(v);
      var problem;
      if (value === '') problem = required ? ['thingpark-common.validation.required'] : undefined;
      else if (!ENV.test(value)) problem = check(value, this);
      if (!problem) return true;
      return opt ? t(this, problem[0], problem[1]) : false;
    };
  }

  /** Only validates while `applies(node)` holds (e.g. a field of the other connection mode). */
  function when(applies, inner) {
    return function (v, opt) {
      return applies(this) ? inner.call(this, v, opt) : true;
    };
  }

  /** The value of a field of the config dialog being edited, or else of the node. */
  function current(node, name) {
    var input = $('#node-config-input-' + name);
    return input.length ? input.val() : node[name];
  }

  var validators = {
    required: function () {
      return validator(function () {
        return undefined;
      }, true);
    },
    /** `host[:port]`, the port 1–65535. */
    hostPort: function (required) {
      return validator(hostPortProblem, required);
    },
    /** A pasted `https://host:port/path` is accepted too (ThingWorx). */
    hostPortOrUrl: function (required) {
      return validator(function (value) {
        var bare = value.replace(/^(wss?|https?):\/\//i, '').replace(/\/.*$/, '');
        return hostPortProblem(bare);
      }, required);
    },
    url: function (required) {
      return validator(function (value) {
        var m = /^https?:\/\/([^/?#\s]+)[^\s]*$/i.exec(value);
        if (!m) return ['thingpark-common.validation.url'];
        return hostPortProblem(m[1].replace(/^[^@]*@/, ''));
      }, required);
    },
    /** An HTTP path of this Node-RED: `/a/b`, no query, no spaces. */
    path: function () {
      return validator(function (value) {
        return /^\/?[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value) && !/\/\//.test(value)
          ? undefined
          : ['thingpark-common.validation.path'];
      }, false);
    },
    /** A whole number from `min` to `max` (no upper bound when max is undefined). */
    integer: function (min, max, required) {
      return validator(function (value) {
        var n = Number(value);
        var ok = /^\d+$/.test(value) && n >= min && (max === undefined || n <= max);
        if (ok) return undefined;
        return max === undefined
          ? ['thingpark-common.validation.integer-min', { min: min }]
          : ['thingpark-common.validation.integer', { min: min, max: max }];
      }, required);
    },
    /** A number greater than 0 (decimals allowed). */
    positive: function (required) {
      return validator(function (value) {
        return /^\d+(\.\d+)?$/.test(value) && Number(value) > 0
          ? undefined
          : ['thingpark-common.validation.positive'];
      }, required);
    },
    /** Letters, digits, '-' and '_' (tenant, enterprise, group ids). */
    id: function (required) {
      return validator(function (value) {
        return ID.test(value) ? undefined : ['thingpark-common.validation.id'];
      }, required);
    },
    /** An id that may also hold dots (AS IDs such as TWA_100000000.000.AS). */
    dottedId: function (required) {
      return validator(function (value) {
        return /^[A-Za-z0-9._-]+$/.test(value) ? undefined : ['thingpark-common.validation.dotted-id'];
      }, required);
    },
    /** An MQTT broker: `host[:port]`, with a path for WSS (`host:443/mqtt`), no scheme. */
    broker: function (required) {
      return validator(function (value) {
        return hostPortProblem(value.replace(/\/.*$/, ''));
      }, required);
    },
    /** A ThingWorx entity name (no spaces or / \ : * ? " < > |). */
    entityName: function (required) {
      return validator(function (value) {
        return /^[^\s/\\:*?"<>|]+$/.test(value) ? undefined : ['thingpark-common.validation.entity-name'];
      }, required);
    },
    /** An MQTT client id or Cumulocity external id (no ':', '/', '+', '#', ',', quotes or spaces). */
    clientId: function () {
      return validator(function (value) {
        return /^[^:/+#,"'\s]+$/.test(value) ? undefined : ['thingpark-common.validation.client-id'];
      }, false);
    },
    /** An MQTT topic to publish to (placeholders such as {DevEUI} allowed): no wildcard. */
    topic: function () {
      return validator(function (value) {
        return /[+#]/.test(value) ? ['thingpark-common.validation.topic'] : undefined;
      }, false);
    },
    /** An MQTT topic filter to subscribe to: '+' only as a whole level, '#' only as the last one. */
    topicFilter: function () {
      return validator(function (value) {
        var levels = value.split('/');
        var bad = levels.some(function (level, i) {
          if (level === '+' || (level === '#' && i === levels.length - 1)) return false;
          return /[+#]/.test(level);
        });
        return bad ? ['thingpark-common.validation.topic-filter'] : undefined;
      }, false);
    },
  };

  /** The document-type checkboxes of a flow node, in `list` (a jQuery element), `chosen` ticked. */
  function typeChecklist(list, types, chosen) {
    var selected = new Set(chosen);
    types.forEach(function (type) {
      var id = 'node-input-type-' + type;
      $('<div>')
        .css({ display: 'inline-block', width: '48%' })
        .append(
          $('<input type="checkbox">')
            .attr('id', id)
            .val(type)
            .css({ width: 'auto', margin: '0 6px 0 0' })
            .prop('checked', selected.has(type)),
          $('<label>').attr('for', id).css({ width: 'auto' }).text(type),
        )
        .appendTo(list);
    });
  }

  function checkedTypes(list) {
    return list
      .find('input:checked')
      .map(function () {
        return this.value;
      })
      .get();
  }

  /** The dialog's current values of these fields (checkboxes as booleans). */
  function dialogValues(names) {
    var values = {};
    names.forEach(function (name) {
      var input = $('#node-config-input-' + name);
      if (!input.length) return;
      values[name] = input.attr('type') === 'checkbox' ? input.prop('checked') : input.val();
    });
    return values;
  }

  /**
   * Fills `#node-config-thingpark-test` of a connection dialog with a "Test connection" button: it
   * posts the dialog's current values (saved or not; an unchanged password is sent as Node-RED's
   * placeholder, for the runtime to use the stored one) to `path` of the admin API, shows a spinner,
   * then the verdict in the user's language.
   */
  function connectionTest(node, options) {
    var row = $('#node-config-thingpark-test').empty();
    $('<label>').html('&nbsp;').appendTo(row);
    var button = $('<button type="button" class="red-ui-button thingpark-test-button">')
      .append($('<i class="fa fa-plug">'), ' ', $('<span>').text(t(node, 'thingpark-common.test.button')))
      .appendTo(row);
    var result = $('<div class="thingpark-test-result">')
      .css({ display: 'inline-block', marginLeft: '10px', verticalAlign: 'middle', maxWidth: '60%' })
      .appendTo(row);

    function show(state, message) {
      var icon = { testing: 'fa-spinner fa-spin', ok: 'fa-check', fail: 'fa-exclamation-triangle' }[state];
      var colour = { testing: '', ok: '#3a9a3a', fail: '#c0392b' }[state];
      result
        .attr('data-result', state)
        .empty()
        .css('color', colour)
        .append($('<i class="fa">').addClass(icon), ' ', $('<span>').text(message));
    }
    function verdict(answer) {
      var message = t(node, 'thingpark-common.test.' + answer.code);
      return answer.detail ? message + ' (' + answer.detail + ')' : message;
    }

    button.on('click', function () {
      button.prop('disabled', true);
      show('testing', t(node, 'thingpark-common.test.testing'));
      var tls = $('#node-config-input-tls').val();
      var config = dialogValues(options.fields);
      config.tls = tls && tls !== '_ADD_' ? tls : '';
      $.ajax({
        url: options.path,
        type: 'POST',
        contentType: 'application/json',
        dataType: 'json',
        timeout: 30000,
        data: JSON.stringify({ id: node.id, config: config, credentials: dialogValues(options.credentials) }),
      })
        .done(function (answer) {
          show(answer.ok ? 'ok' : 'fail', verdict(answer));
        })
        .fail(function (xhr, status) {
          var answer = xhr.responseJSON;
          if (answer && answer.code) show('fail', verdict(answer));
          else if (xhr.status === 401 || xhr.status === 403)
            show('fail', t(node, 'thingpark-common.test.denied'));
          else show('fail', t(node, 'thingpark-common.test.error') + ' (' + (xhr.status || status) + ')');
        })
        .always(function () {
          button.prop('disabled', false);
        });
    });
  }

  window.ThingParkEditor = $.extend(window.ThingParkEditor || {}, {
    validators: validators,
    when: when,
    current: current,
    typeChecklist: typeChecklist,
    checkedTypes: checkedTypes,
    connectionTest: connectionTest,
  });
})();
