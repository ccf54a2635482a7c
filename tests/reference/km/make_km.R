# Reference fixtures for Kaplan-Meier: survival::survfit on survival::lung.
# Run from this folder: Rscript make_km.R   (writes the CSV files beside this script)
suppressPackageStartupMessages(library(survival))
options(digits = 17)
write <- function(df, file) write.csv(df, file, row.names = FALSE)

data(cancer, package = "survival")
lung_in <- data.frame(time = lung$time, status = lung$status, sex = lung$sex, age = lung$age)
write(lung_in, "lung.csv")

times <- c(30, 90, 180, 365, 730, 1000)
for (ct in c("log", "log-log", "plain")) {
  slug <- gsub("-", "", ct)
  for (by in c("none", "sex")) {
    fit <- if (by == "none") survfit(Surv(time, status) ~ 1, data = lung, conf.type = ct)
           else survfit(Surv(time, status) ~ sex, data = lung, conf.type = ct)
    strata <- if (is.null(fit$strata)) rep("all", length(fit$time))
              else rep(sub("sex=", "", names(fit$strata)), fit$strata)
    write(data.frame(group = strata, time = fit$time, n_risk = fit$n.risk,
                     n_event = fit$n.event, n_censor = fit$n.censor, surv = fit$surv,
                     std_err_log = fit$std.err, lower = fit$lower, upper = fit$upper),
          sprintf("km_lung_%s_%s.csv", by, slug))
    s <- summary(fit, times = times)
    sg <- if (is.null(s$strata)) rep("all", length(s$time)) else sub("sex=", "", as.character(s$strata))
    write(data.frame(group = sg, time = s$time, n_risk = s$n.risk, surv = s$surv,
                     std_err = s$std.err, lower = s$lower, upper = s$upper),
          sprintf("km_lung_summary_%s_%s.csv", by, slug))
    q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
    qg <- if (is.null(fit$strata)) "all" else sub("sex=", "", names(fit$strata))
    qq <- as.matrix(q$quantile); ql <- as.matrix(q$lower); qu <- as.matrix(q$upper)
    if (is.null(fit$strata)) { qq <- t(qq); ql <- t(ql); qu <- t(qu) }
    rows <- list()
    for (g in seq_along(qg)) for (k in seq_along(c(0.25, 0.5, 0.75))) {
      rows[[length(rows) + 1]] <- data.frame(group = qg[g], prob = c(0.25, 0.5, 0.75)[k],
        quantile = qq[g, k], lower = ql[g, k], upper = qu[g, k])
    }
    write(do.call(rbind, rows), sprintf("km_lung_quantiles_%s_%s.csv", by, slug))
  }
}
writeLines(c(R.version.string, paste("survival", packageVersion("survival"))), "VERSIONS.txt")
