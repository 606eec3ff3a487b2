package loggen

// message is one kind of log line: its level, logger and how its text is
// made.
type message struct {
	weight int
	level  string
	logger string
	text   func(g *Generator, q *request, dst []byte) []byte
}

var paths = []string{"/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/cart", "/api/v1/payments", "/api/v1/users/{id}/addresses", "/api/v1/inventory/reserve", "/actuator/health", "/api/v2/search"}
var methods = []string{"GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
var statuses = []int{200, 200, 200, 200, 200, 200, 201, 204, 400, 404, 409, 500, 503}
var skus = []string{"SKU-AX", "SKU-BQ", "SKU-CR", "SKU-DZ", "SKU-EM", "SKU-FT"}
var currencies = []string{"CNY", "CNY", "CNY", "USD", "HKD"}
var tables = []string{"orders", "order_items", "payments", "inventory", "users", "addresses"}
var topics = []string{"order-events", "payment-events", "inventory-events"}

var messages = []message{
	{20, "INFO ", "o.s.w.s.DispatcherServlet", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Completed "...)
		dst = append(dst, methods[g.r.IntN(len(methods))]...)
		dst = append(dst, ' ')
		dst = append(dst, paths[g.r.IntN(len(paths))]...)
		dst = append(dst, " status="...)
		dst = num(dst, statuses[g.r.IntN(len(statuses))])
		dst = append(dst, " in "...)
		dst = num(dst, g.duration())
		dst = append(dst, "ms userId="...)
		return num(dst, q.user)
	}},
	{14, "INFO ", "c.e.o.s.OrderService", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Order "...)
		dst = num(dst, q.order)
		dst = append(dst, " created for user "...)
		dst = num(dst, q.user)
		dst = append(dst, ": "...)
		dst = num(dst, 1+g.r.IntN(6))
		dst = append(dst, " items, total "...)
		dst = num(dst, 1+g.r.IntN(3000))
		dst = append(dst, '.')
		dst = num(dst, 10+g.r.IntN(90))
		dst = append(dst, ' ')
		return append(dst, currencies[g.r.IntN(len(currencies))]...)
	}},
	{10, "DEBUG", "c.e.o.r.OrderRepository", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "SELECT * FROM "...)
		dst = append(dst, tables[g.r.IntN(len(tables))]...)
		dst = append(dst, " WHERE user_id=? took "...)
		dst = num(dst, g.duration()/4)
		dst = append(dst, "ms rows="...)
		return num(dst, g.r.IntN(50))
	}},
	{10, "INFO ", "c.e.p.c.PaymentClient", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Payment authorized orderId="...)
		dst = num(dst, q.order)
		dst = append(dst, " txn=PAY"...)
		dst = num(dst, 1e9+g.r.IntN(9e9))
		dst = append(dst, " amount="...)
		dst = num(dst, 1+g.r.IntN(3000))
		dst = append(dst, " latency="...)
		dst = num(dst, g.duration())
		return append(dst, "ms"...)
	}},
	{8, "INFO ", "c.e.i.StockService", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Reserved "...)
		dst = num(dst, 1+g.r.IntN(5))
		dst = append(dst, " of "...)
		dst = append(dst, skus[g.r.IntN(len(skus))]...)
		dst = append(dst, '-')
		dst = num(dst, 1000+g.r.IntN(9000))
		dst = append(dst, " for order "...)
		dst = num(dst, q.order)
		dst = append(dst, ", remaining "...)
		return num(dst, g.r.IntN(500))
	}},
	{7, "DEBUG", "c.e.c.w.RequestLogFilter", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Request from 10."...)
		dst = num(dst, g.r.IntN(4))
		dst = append(dst, '.')
		dst = num(dst, g.r.IntN(256))
		dst = append(dst, '.')
		dst = num(dst, 1+g.r.IntN(254))
		dst = append(dst, " len="...)
		return num(dst, g.r.IntN(4096))
	}},
	{6, "WARN ", "c.e.o.s.OrderService", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Slow call to inventory took "...)
		dst = num(dst, 1000+g.r.IntN(4000))
		dst = append(dst, "ms, orderId="...)
		return num(dst, q.order)
	}},
	{6, "INFO ", "c.e.o.m.EventPublisher", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Published OrderCreatedEvent to "...)
		dst = append(dst, topics[g.r.IntN(len(topics))]...)
		dst = append(dst, " partition="...)
		dst = num(dst, g.r.IntN(12))
		dst = append(dst, " offset="...)
		return num(dst, 4000000+g.r.IntN(1000000))
	}},
	{5, "DEBUG", "c.z.hikari.pool.HikariPool", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "HikariPool-1 - Pool stats (total=20, active="...)
		dst = num(dst, g.r.IntN(21))
		dst = append(dst, ", idle="...)
		dst = num(dst, g.r.IntN(21))
		dst = append(dst, ", waiting="...)
		return append(dst, byte('0'+g.r.IntN(3)), ')')
	}},
	{5, "INFO ", "c.e.u.s.UserService", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Loaded profile for user "...)
		dst = num(dst, q.user)
		dst = append(dst, " hit="...)
		if g.r.IntN(4) == 0 {
			dst = append(dst, "false"...)
		} else {
			dst = append(dst, "true"...)
		}
		dst = append(dst, " in "...)
		dst = num(dst, g.duration()/8)
		return append(dst, "ms"...)
	}},
	{3, "WARN ", "o.a.k.c.c.i.ConsumerCoordinator", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "[Consumer clientId=consumer-"...)
		dst = num(dst, 1+g.r.IntN(6))
		dst = append(dst, ", groupId=order-service] Offset commit failed on partition order-events-"...)
		dst = num(dst, g.r.IntN(12))
		dst = append(dst, " at offset "...)
		return num(dst, 4000000+g.r.IntN(1000000))
	}},
	{3, "INFO ", "c.e.o.s.OrderTimeoutJob", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Cancelled "...)
		dst = num(dst, g.r.IntN(30))
		dst = append(dst, " unpaid orders older than 30m in "...)
		dst = num(dst, g.duration())
		return append(dst, "ms"...)
	}},
	{2, "ERROR", "c.e.p.c.PaymentClient", func(g *Generator, q *request, dst []byte) []byte {
		dst = append(dst, "Payment gateway returned 502 for orderId="...)
		dst = num(dst, q.order)
		dst = append(dst, ", retrying (attempt "...)
		dst = num(dst, 1+g.r.IntN(3))
		return append(dst, "/3)"...)
	}},
}

var totalWeight = func() int {
	n := 0
	for _, m := range messages {
		n += m.weight
	}
	return n
}()

// trace is one kind of exception with its stack.
type trace struct {
	logger, message, exception, detail string
	frames                             []string
	cause                              string
	causeFrames                        []string
}

// webFrames are the servlet container's frames under every request.
var webFrames = []string{
	"org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
	"org.springframework.web.servlet.FrameworkServlet.doPost(FrameworkServlet.java:914)",
	"jakarta.servlet.http.HttpServlet.service(HttpServlet.java:590)",
	"org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)",
	"jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)",
	"org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:205)",
	"org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:149)",
	"org.apache.tomcat.websocket.server.WsFilter.doFilter(WsFilter.java:51)",
	"org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:167)",
	"org.apache.catalina.core.StandardContextValve.invoke(StandardContextValve.java:90)",
	"org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:391)",
	"org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1743)",
	"java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)",
	"java.base/java.lang.Thread.run(Thread.java:1583)",
}

func stack(app ...string) []string { return append(app, webFrames...) }

var traces = []trace{
	{
		logger: "c.e.o.w.OrderController", message: "Failed to create order",
		exception: "org.springframework.dao.DataAccessResourceFailureException", detail: "Unable to acquire JDBC Connection after ",
		frames: stack(
			"org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException(HibernateJpaDialect.java:277)",
			"org.springframework.orm.jpa.JpaTransactionManager.doBegin(JpaTransactionManager.java:466)",
			"com.example.order.service.OrderService.createOrder(OrderService.java:142)",
			"com.example.order.web.OrderController.create(OrderController.java:58)",
			"java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
			"org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)",
			"org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
		),
		cause: "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.",
		causeFrames: []string{
			"com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
			"com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
			"com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:146)",
			"com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:100)",
			"org.hibernate.engine.jdbc.connections.internal.DatasourceConnectionProviderImpl.getConnection(DatasourceConnectionProviderImpl.java:122)",
		},
	},
	{
		logger: "c.e.p.c.PaymentClient", message: "Payment call failed",
		exception: "org.springframework.web.client.ResourceAccessException", detail: "I/O error on POST request for \"https://pay.internal/api/charge\": Read timed out after ",
		frames: stack(
			"org.springframework.web.client.RestTemplate.createResourceAccessException(RestTemplate.java:915)",
			"org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:895)",
			"org.springframework.web.client.RestTemplate.postForEntity(RestTemplate.java:512)",
			"com.example.payment.client.PaymentGatewayClient.charge(PaymentGatewayClient.java:87)",
			"com.example.order.service.CheckoutService.pay(CheckoutService.java:203)",
			"com.example.order.web.CheckoutController.checkout(CheckoutController.java:44)",
		),
		cause: "java.net.SocketTimeoutException: Read timed out",
		causeFrames: []string{
			"java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
			"java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)",
			"java.base/sun.nio.ch.NioSocketImpl.read(NioSocketImpl.java:346)",
			"java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
			"java.base/sun.security.ssl.SSLSocketInputRecord.read(SSLSocketInputRecord.java:489)",
			"java.base/sun.security.ssl.SSLSocketImpl.readApplicationRecord(SSLSocketImpl.java:1461)",
		},
	},
	{
		logger: "c.e.i.StockService", message: "Reservation rejected",
		exception: "com.example.inventory.InsufficientStockException", detail: "Not enough stock, requested for reservation window ",
		frames: stack(
			"com.example.inventory.StockService.reserve(StockService.java:119)",
			"com.example.inventory.StockService$$SpringCGLIB$$0.reserve(<generated>)",
			"com.example.order.service.OrderService.reserveItems(OrderService.java:188)",
			"com.example.order.service.OrderService.createOrder(OrderService.java:150)",
			"com.example.order.web.OrderController.create(OrderController.java:58)",
		),
		cause: "org.springframework.orm.ObjectOptimisticLockingFailureException: Row was updated or deleted by another transaction",
		causeFrames: []string{
			"org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException(HibernateJpaDialect.java:325)",
			"org.springframework.orm.jpa.EntityManagerFactoryUtils.convertJpaAccessExceptionIfPossible(EntityManagerFactoryUtils.java:244)",
			"org.hibernate.event.internal.DefaultMergeEventListener.entityIsDetached(DefaultMergeEventListener.java:412)",
		},
	},
}
