package hub.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a reseller's partner topics (status and billing) with the plain Kafka client and Apache
 * Avro. The hub writes Confluent's wire format when it runs with a schema registry: byte 0, a
 * 4-byte schema id, then the Avro body; the writer schema is fetched from the registry by id once.
 *
 * <pre>
 * java -cp "target/partner-examples.jar:target/lib/*" hub.examples.PartnerConsumer \
 *     --bootstrap 127.0.0.1:9092 --registry http://127.0.0.1:8081/apis/ccompat/v7 --reseller R-1001
 * </pre>
 */
public final class PartnerConsumer {
  private static final List<String> SUBJECT_FIELDS =
      List.of("order_id", "invoice_id", "credit_note_id", "payment_id", "subscription_id", "ticket_id");

  private final HttpClient http = HttpClient.newHttpClient();
  private final ObjectMapper json = new ObjectMapper();
  private final Map<Integer, Schema> schemas = new HashMap<>();
  private final String registry;

  private PartnerConsumer(String registry) {
    this.registry = registry.replaceAll("/+$", "");
  }

  /** The writer schema registered under {@code id}: {@code GET /schemas/ids/<id>}. */
  private Schema schema(int id) throws Exception {
    Schema known = schemas.get(id);
    if (known != null) {
      return known;
    }
    HttpRequest request = HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id)).build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IllegalStateException("registry answered " + response.statusCode() + " for id " + id);
    }
    Schema parsed = new Schema.Parser().parse(json.readTree(response.body()).get("schema").asText());
    schemas.put(id, parsed);
    return parsed;
  }

  /** An event in Confluent's wire format, decoded with its writer schema. */
  GenericRecord decode(byte[] value) throws Exception {
    ByteBuffer buffer = ByteBuffer.wrap(value);
    if (value.length < 5 || buffer.get() != 0) {
      throw new IllegalArgumentException("not Confluent's wire format (magic byte 0)");
    }
    Schema writer = schema(buffer.getInt());
    GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(writer);
    return reader.read(null, DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null));
  }

  static String describe(String eventType, GenericRecord event) {
    StringBuilder text = new StringBuilder(eventType);
    for (String field : SUBJECT_FIELDS) {
      if (event.hasField(field) && event.get(field) != null) {
        text.append(' ').append(field).append('=').append(event.get(field));
        break;
      }
    }
    if (eventType.equals("IngressRejected")) {
      text.append(" code=").append(event.get("code"));
    }
    return text.toString();
  }

  private static String header(ConsumerRecord<String, byte[]> record, String name) {
    Header last = record.headers().lastHeader(name);
    return last == null ? "?" : new String(last.value(), StandardCharsets.UTF_8);
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    }
    String reseller = args.get("reseller");
    String prefix = args.getOrDefault("prefix", "");
    int maxMessages = Integer.parseInt(args.getOrDefault("max-messages", "0"));
    Instant deadline = Instant.now().plusSeconds(Long.parseLong(args.getOrDefault("timeout", "60")));

    Properties config = new Properties();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args.get("bootstrap"));
    // Your ACLs allow consumer groups named reseller-<id>.*
    config.put(ConsumerConfig.GROUP_ID_CONFIG, args.getOrDefault("group", "reseller-" + reseller + ".examples"));
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    PartnerConsumer decoder = new PartnerConsumer(args.get("registry"));
    int seen = 0;
    try (KafkaConsumer<String, byte[]> consumer =
        new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(prefix + "partner." + reseller + ".status", prefix + "partner." + reseller + ".billing"));
      while (Instant.now().isBefore(deadline) && (maxMessages == 0 || seen < maxMessages)) {
        for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofSeconds(1))) {
          GenericRecord event = decoder.decode(record.value());
          // The hub's headers say the type without decoding; the record's schema says it too.
          String eventType = header(record, "hub.event-type");
          System.out.println(record.topic() + " key=" + record.key() + " " + describe(eventType, event));
          seen++;
        }
        consumer.commitSync(); // after handling what poll returned: at least once
      }
    }
    System.out.println("read " + seen + " event(s)");
  }
}
