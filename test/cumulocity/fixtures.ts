/** ThingPark documents used by the Cumulocity tests (typed JSON, with their root key). */

export const TIME = '2024-01-01T10:00:00.000+00:00';
export const DEVEUI = '0018B20000000B20';
export const CHILD = '0018b20000000b20';
export const CHILD_TOPIC = 's/us/0018b20000000b20';

/** The brief's example uplink: LoRa radio fields, decoded payload and one ontology point. */
export function loraUplink(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    DevEUI_uplink: {
      Time: TIME,
      DevEUI: DEVEUI,
      FPort: 2,
      FCntUp: 7,
      FCntDn: 3,
      ADRbit: 1,
      MType: 2,
      payload_hex: '0027bd00',
      mic_hex: '38e7a3b9',
      Lrcid: '00000201',
      LrrRSSI: -60,
      LrrSNR: 9.5,
      LrrESP: -60.5,
      SpFact: 7,
      SubBand: 'G0',
      Channel: 'LC1',
      DevLrrCnt: 1,
      Lrrid: 'FF0109A4',
      Late: 0,
      Lrrs: { Lrr: [{ Lrrid: 'FF0109A4', Chain: 0, LrrRSSI: -60, LrrSNR: 9.5, LrrESP: -60.5 }] },
      CustomerID: '100000507',
      CustomerData: { alr: { pro: 'ADRF/DEMO', ver: '2' } },
      DevAddr: '04A1B2C3',
      payload: { temperature: 21.5, nested: { humidity: 40 } },
      points: { temperature: { unitId: 'Cel', type: 'double', record: 21.5 } },
      ...extra,
    },
  };
}

/** A ThingPark Cellular uplink: no LoRa radio fields, SIM identities instead. */
export function cellularUplink(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    DevEUI_uplink: {
      Time: '2024-03-05T08:30:00.000+01:00',
      DevEUI: 'F03D290000000001',
      FCntUp: 12,
      payload_hex: '01020304',
      IMEI: '356938035643809',
      IMSI: '208150000000001',
      CustomerID: '100000507',
      payload: { battery: 3.61 },
      ...extra,
    },
  };
}
