package hub.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Sends one OrderRequested to the hub with the plain Kafka client and Apache Avro, in Confluent's
 * wire format: byte 0, the 4-byte id of the schema the distributor registered, the Avro body. The
 * client's default partitioner (murmur2 of the key) is the hub's.
 *
 * <pre>
 * java -cp "target/partner-examples.jar:target/lib/*" hub.examples.OrderProducer \
 *     --bootstrap 127.0.0.1:9092 --registry http://127.0.0.1:8081/apis/ccompat/v7 \
 *     --reseller R-1001 --customer C-1 --order-id PO-42
 * </pre>
 */
public final class OrderProducer {
  /** The subject the distributor registers OrderRequested under: the record's full name. */
  static final String SUBJECT = "hub.events.OrderRequested";

  private OrderProducer() {}

  /** The id and schema registered last under {@code subject}. */
  static Map.Entry<Integer, Schema> latest(String registry, String subject) throws Exception {
    String url = registry.replaceAll("/+$", "") + "/subjects/"
        + URLEncoder.encode(subject, StandardCharsets.UTF_8) + "/versions/latest";
    HttpResponse<String> response = HttpClient.newHttpClient()
        .send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IllegalStateException("registry answered " + response.statusCode() + " for " + subject);
    }
    JsonNode answer = new ObjectMapper().readTree(response.body());
    return Map.entry(answer.get("id").asInt(), new Schema.Parser().parse(answer.get("schema").asText()));
  }

  static long micros(Instant time) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, time);
  }

  static GenericRecord order(Schema schema, String reseller, String customer, String orderId) {
    Schema lineSchema = schema.getField("lines").schema().getElementType();
    GenericRecord line = new GenericData.Record(lineSchema);
    line.put("product_id", "CFQ7TTC0LH18");
    line.put("sku_id", "0001");
    line.put("availability_id", "CFQ7TTC0LDPB");
    line.put("quantity", 5L);
    line.put("term", new GenericData.EnumSymbol(lineSchema.getField("term").schema(), "P1M"));
    line.put("billing_cycle",
        new GenericData.EnumSymbol(lineSchema.getField("billing_cycle").schema(), "monthly"));
    long now = micros(Instant.now());
    GenericRecord event = new GenericData.Record(schema);
    event.put("event_id", UUID.randomUUID().toString());
    event.put("event_time", now);
    event.put("correlation_id", "order-" + orderId);
    event.put("causation_id", null);
    event.put("reseller_id", reseller);
    event.put("schema_version", 1L);
    event.put("order_id", orderId); // a retry of the same order reuses it
    event.put("customer_id", customer);
    event.put("lines", List.of(line));
    event.put("requested_at", now);
    return event;
  }

  static byte[] encode(int schemaId, GenericRecord event) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0);
    out.write(ByteBuffer.allocate(4).putInt(schemaId).array());
    BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
    new GenericDatumWriter<GenericRecord>(event.getSchema()).write(event, encoder);
    encoder.flush();
    return out.toByteArray();
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    }
    String reseller = args.get("reseller");
    String orderId = args.get("order-id");
    String topic = args.getOrDefault("topic", "reseller." + reseller + ".orders");
    Map.Entry<Integer, Schema> registered =
        latest(args.get("registry"), args.getOrDefault("subject", SUBJECT));
    GenericRecord event = order(registered.getValue(), reseller, args.get("customer"), orderId);

    Properties config = new Properties();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args.get("bootstrap"));
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(config, new StringSerializer(), new ByteArraySerializer())) {
      // The key is your reseller id.
      ProducerRecord<String, byte[]> record =
          new ProducerRecord<>(topic, reseller, encode(registered.getKey(), event));
      RecordMetadata sent = producer.send(record).get();
      System.out.println("sent OrderRequested " + orderId + " event_id=" + event.get("event_id")
          + " to " + topic + " partition " + sent.partition() + " offset " + sent.offset());
    }
  }
}
